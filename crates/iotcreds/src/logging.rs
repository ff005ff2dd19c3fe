//! Log output: text for people, or one flat JSON object per line for machines.
//!
//! The JSON lines look like tracing-subscriber's `json().flatten_event(true)` output
//! (`{"timestamp":…,"level":…,"message":…,<fields>…,"target":…}`), but are written straight into
//! the line buffer: tracing-subscriber's JSON formatter collects every field into a
//! `serde_json::Map` of allocated values first, which made an audit line cost as much as the
//! credentials decision it records. Hand-written because no maintained crate formats tracing
//! events as flat JSON without that intermediate map.

use std::fmt::{self, Write as _};
use std::io::{self, BufWriter, Stderr, Write as _};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Where log lines go: stderr through a 64 KiB buffer shared by every thread, written when it
/// fills and at least every 100 ms by a background thread, and on drop. A request thread only
/// copies its line into the buffer: no system call and no thread wake-up per line. Lines reach
/// stderr within 100 ms; a process killed with SIGKILL loses at most that much.
#[derive(Clone)]
pub struct BufferedStderr(Arc<Mutex<BufWriter<Stderr>>>);

/// Flushes the buffer when dropped (at exit).
pub struct FlushGuard(BufferedStderr);

impl BufferedStderr {
    /// The writer and the guard that flushes it at exit; starts the periodic flusher.
    pub fn start() -> (Self, FlushGuard) {
        let w = BufferedStderr(Arc::new(Mutex::new(BufWriter::with_capacity(
            64 * 1024,
            io::stderr(),
        ))));
        let flusher = w.clone();
        std::thread::Builder::new()
            .name("log-flush".into())
            .spawn(move || {
                loop {
                    // A periodic flush, not a wait for anything.
                    std::thread::sleep(Duration::from_millis(100));
                    let _ = flusher.lock().flush();
                }
            })
            .expect("spawning the log flusher");
        (w.clone(), FlushGuard(w))
    }

    fn lock(&self) -> MutexGuard<'_, BufWriter<Stderr>> {
        // A panic while holding the lock leaves a usable buffer.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        let _ = self.0.lock().flush();
    }
}

impl io::Write for BufferedStderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.lock().write_all(buf).map(|()| buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.lock().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for BufferedStderr {
    type Writer = BufferedStderr;

    fn make_writer(&'a self) -> BufferedStderr {
        self.clone()
    }
}

/// Flat JSON, one event per line.
pub struct FlatJson;

impl<S, N> FormatEvent<S, N> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        writer.write_str("{\"timestamp\":\"")?;
        write_timestamp(&mut writer)?;
        write!(writer, "\",\"level\":\"{}\"", meta.level())?;
        let mut fields = Fields {
            writer: &mut writer,
            result: Ok(()),
        };
        event.record(&mut fields);
        fields.result?;
        writer.write_str(",\"target\":")?;
        write_json_str(&mut writer, meta.target())?;
        writer.write_str("}\n")
    }
}

/// `YYYY-MM-DDTHH:MM:SS.uuuuuuZ` (UTC); the part up to the seconds is formatted once per
/// second per thread.
fn write_timestamp(w: &mut impl fmt::Write) -> fmt::Result {
    use std::cell::RefCell;
    thread_local! {
        static SECOND: RefCell<(i64, String)> = const { RefCell::new((i64::MIN, String::new())) };
    }
    let now = time::OffsetDateTime::now_utc();
    let second = now.unix_timestamp();
    SECOND.with(|cell| {
        let mut cached = cell.borrow_mut();
        if cached.0 != second {
            let format =
                time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
            cached.1 = now.format(format).map_err(|_| fmt::Error)?;
            cached.0 = second;
        }
        w.write_str(&cached.1)
    })?;
    write!(w, ".{:06}Z", now.microsecond())
}

struct Fields<'a, 'w> {
    writer: &'a mut Writer<'w>,
    result: fmt::Result,
}

impl Fields<'_, '_> {
    fn key(&mut self, field: &Field) -> fmt::Result {
        self.writer.write_char(',')?;
        write_json_str(self.writer, field.name())?;
        self.writer.write_char(':')
    }
}

impl Visit for Fields<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.result.is_ok() {
            self.result = self
                .key(field)
                .and_then(|()| write_json_str(self.writer, value));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if self.result.is_ok() {
            self.result = self
                .key(field)
                .and_then(|()| write!(self.writer, "{value}"));
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if self.result.is_ok() {
            self.result = self
                .key(field)
                .and_then(|()| write!(self.writer, "{value}"));
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if self.result.is_ok() {
            self.result = self
                .key(field)
                .and_then(|()| write!(self.writer, "{value}"));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.result.is_ok() {
            self.result = self.key(field).and_then(|()| {
                self.writer.write_char('"')?;
                write!(Escaper(self.writer), "{value:?}")?;
                self.writer.write_char('"')
            });
        }
    }
}

/// A JSON string literal.
fn write_json_str(w: &mut impl fmt::Write, s: &str) -> fmt::Result {
    w.write_char('"')?;
    Escaper(w).write_str(s)?;
    w.write_char('"')
}

/// Escapes what passes through it for a JSON string body.
struct Escaper<'a, W: fmt::Write + ?Sized>(&'a mut W);

impl<W: fmt::Write + ?Sized> fmt::Write for Escaper<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // Most values (ids, names, addresses) need no escaping at all.
        if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
            return self.0.write_str(s);
        }
        let mut start = 0;
        for (i, c) in s.char_indices() {
            let escaped = match c {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                c if (c as u32) < 0x20 => {
                    self.0.write_str(&s[start..i])?;
                    write!(self.0, "\\u{:04x}", c as u32)?;
                    start = i + c.len_utf8();
                    continue;
                }
                _ => continue,
            };
            self.0.write_str(&s[start..i])?;
            self.0.write_str(escaped)?;
            start = i + c.len_utf8();
        }
        self.0.write_str(&s[start..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_gives_valid_json() {
        for s in [
            "plain",
            "quo\"te",
            "back\\slash",
            "new\nline",
            "tab\tand\u{1}ctl",
            "ünïcode ✓",
            "",
        ] {
            let mut out = String::new();
            write_json_str(&mut out, s).unwrap();
            let back: String = serde_json::from_str(&out).unwrap();
            assert_eq!(back, s);
        }
    }

    #[test]
    fn events_are_flat_json_lines() {
        use std::sync::{Arc, Mutex};
        use tracing_subscriber::fmt::MakeWriter;

        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        impl<'a> MakeWriter<'a> for Buf {
            type Writer = Buf;
            fn make_writer(&'a self) -> Buf {
                self.clone()
            }
        }
        let buf = Buf::default();
        let subscriber = tracing_subscriber::fmt()
            .event_format(FlatJson)
            .with_writer(buf.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let addr: std::net::SocketAddr = "127.0.0.1:8443".parse().unwrap();
            tracing::info!(target: "iotcreds::audit", event = "credentials", status = 403u16, ok = false, addr = %addr, why = ?"a \"b\"", "decision {}", 1);
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert!(text.ends_with('\n') && text.lines().count() == 1, "{text}");
        let v: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
        assert_eq!(v["target"], "iotcreds::audit");
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["message"], "decision 1");
        assert_eq!(v["event"], "credentials");
        assert_eq!(v["status"], 403);
        assert_eq!(v["ok"], false);
        assert_eq!(v["addr"], "127.0.0.1:8443");
        assert_eq!(v["why"], "\"a \\\"b\\\"\"");
        assert!(v["timestamp"].as_str().unwrap().ends_with('Z'));
    }
}

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
        // The line is built in a plain `String` (direct pushes, no dynamic dispatch per
        // character) and handed to the writer in one piece.
        thread_local! {
            static LINE: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
        }
        LINE.with(|line| {
            let mut line = line.try_borrow_mut().map_err(|_| fmt::Error)?;
            line.clear();
            format_line(&mut line, event)?;
            writer.write_str(&line)
        })
    }
}

fn format_line(line: &mut String, event: &Event<'_>) -> fmt::Result {
    let meta = event.metadata();
    line.push_str("{\"timestamp\":\"");
    write_timestamp(line)?;
    line.push_str("\",\"level\":\"");
    line.push_str(meta.level().as_str());
    line.push('"');
    let mut fields = Fields {
        line,
        result: Ok(()),
    };
    event.record(&mut fields);
    fields.result?;
    line.push_str(",\"target\":");
    push_json_str(line, meta.target());
    line.push_str("}\n");
    Ok(())
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

struct Fields<'a> {
    line: &'a mut String,
    result: fmt::Result,
}

impl Fields<'_> {
    fn key(&mut self, field: &Field) {
        self.line.push(',');
        push_json_str(self.line, field.name());
        self.line.push(':');
    }
}

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.key(field);
        push_json_str(self.line, value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.key(field);
        let _ = write!(self.line, "{value}"); // writing to a String cannot fail
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.key(field);
        let _ = write!(self.line, "{value}"); // writing to a String cannot fail
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.key(field);
        self.line.push_str(if value { "true" } else { "false" });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.result.is_ok() {
            self.key(field);
            self.line.push('"');
            self.result = write!(Escaper(&mut *self.line), "{value:?}");
            self.line.push('"');
        }
    }
}

/// A JSON string literal.
fn push_json_str(line: &mut String, s: &str) {
    line.push('"');
    push_escaped(line, s);
    line.push('"');
}

/// `s` escaped for a JSON string body.
fn push_escaped(line: &mut String, s: &str) {
    let bytes = s.as_bytes();
    // Skip eight bytes at a time while none needs escaping.
    let mut clean = 0;
    while let Some(chunk) = bytes.get(clean..clean + 8) {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        if word_needs_escape(word) {
            break;
        }
        clean += 8;
    }
    // Not inside a multi-byte character.
    while !s.is_char_boundary(clean) {
        clean -= 1;
    }
    line.push_str(&s[..clean]);
    let s = &s[clean..];
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        // Most values (ids, names, addresses) need no escaping at all; multi-byte UTF-8
        // sequences never contain these bytes, so byte indices are char boundaries.
        let escaped = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            b if b < 0x20 => {
                line.push_str(&s[start..i]);
                line.push_str("\\u00");
                line.push(char::from(HEX[usize::from(b >> 4)]));
                line.push(char::from(HEX[usize::from(b & 0xf)]));
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        line.push_str(&s[start..i]);
        line.push_str(escaped);
        start = i + 1;
    }
    line.push_str(&s[start..]);
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Whether any byte of `word` is a control character, `"` or `\\` (the classic bit tricks:
/// a byte below `n` leaves its high bit set in `(x - n) & !x`; an equal byte becomes zero).
fn word_needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGH;
    let zero = |x: u64| below(x, 1);
    let quote = zero(word ^ (ONES * u64::from(b'"')));
    let backslash = zero(word ^ (ONES * u64::from(b'\\')));
    below(word, 0x20) | quote | backslash != 0
}

/// Escapes what `Debug` formatting writes through it.
struct Escaper<'a>(&'a mut String);

impl fmt::Write for Escaper<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        push_escaped(self.0, s);
        Ok(())
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
            "a longer value with a quote \" after the first eight bytes",
            "0123456789abcdef\\",
            "\u{7f}\u{1f}01234567",
            "ünïcode ✓",
            "1234567ü, a character across the first eight bytes\"",
            "123456✓ and one of three bytes",
            "",
        ] {
            let mut out = String::new();
            push_json_str(&mut out, s);
            let back: String = serde_json::from_str(&out).unwrap();
            assert_eq!(back, s);
        }
    }

    #[test]
    fn word_check_finds_every_byte_to_escape() {
        for fill in [b'a', 0x7f, 0xc3, 0x20] {
            for b in 0..=255u8 {
                for pos in 0..8 {
                    let mut word = [fill; 8];
                    word[pos] = b;
                    let want = b < 0x20 || b == b'"' || b == b'\\';
                    assert_eq!(
                        word_needs_escape(u64::from_le_bytes(word)),
                        want,
                        "{b:#x} at {pos}"
                    );
                }
            }
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

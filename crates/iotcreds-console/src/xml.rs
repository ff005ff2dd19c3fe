//! A small reader for the IAM answers the console gets from the control plane: the XML as a
//! tree of elements, with look-ups by path and the lists of `<member>`s.

use quick_xml::events::Event;

/// One element: its local name, its text and its children.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Node {
    /// Local name (no namespace prefix).
    pub name: String,
    /// Concatenated text content, unescaped.
    pub text: String,
    /// Child elements in order.
    pub children: Vec<Node>,
}

impl Node {
    /// Parse a document; the returned node is the root element.
    pub fn parse(text: &str) -> Result<Node, String> {
        let mut reader = quick_xml::Reader::from_str(text);
        let mut stack: Vec<Node> = vec![Node::default()];
        loop {
            match reader
                .read_event()
                .map_err(|e| format!("malformed XML: {e}"))?
            {
                Event::Start(e) => stack.push(Node {
                    name: local(e.local_name().as_ref()),
                    ..Node::default()
                }),
                Event::Empty(e) => {
                    let n = Node {
                        name: local(e.local_name().as_ref()),
                        ..Node::default()
                    };
                    if let Some(top) = stack.last_mut() {
                        top.children.push(n);
                    }
                }
                Event::Text(t) => {
                    let s = t.decode().map_err(|e| format!("malformed XML text: {e}"))?;
                    if let Some(top) = stack.last_mut() {
                        top.text.push_str(&s);
                    }
                }
                Event::GeneralRef(r) => {
                    let resolved = if r.is_char_ref() {
                        r.resolve_char_ref()
                            .ok()
                            .flatten()
                            .map(String::from)
                            .ok_or("bad character reference in XML")?
                    } else {
                        let name = r.decode().map_err(|e| format!("malformed XML: {e}"))?;
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or_else(|| format!("unknown XML entity &{name};"))?
                            .to_owned()
                    };
                    if let Some(top) = stack.last_mut() {
                        top.text.push_str(&resolved);
                    }
                }
                Event::End(_) => {
                    let done = stack.pop().unwrap_or_default();
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(done),
                        None => return Err("unbalanced XML".into()),
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        stack
            .pop()
            .and_then(|mut doc| doc.children.pop())
            .ok_or_else(|| "empty XML document".to_owned())
    }

    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The first element named `name` anywhere below (depth first).
    pub fn find(&self, name: &str) -> Option<&Node> {
        self.children.iter().find_map(|c| {
            if c.name == name {
                Some(c)
            } else {
                c.find(name)
            }
        })
    }

    /// The text of the first element named `name` below, or `""`.
    pub fn text_of(&self, name: &str) -> &str {
        self.find(name).map_or("", |n| n.text.as_str())
    }

    /// The `<member>`s of the first element named `list` below.
    pub fn members(&self, list: &str) -> Vec<&Node> {
        self.find(list)
            .map(|l| l.children.iter().filter(|c| c.name == "member").collect())
            .unwrap_or_default()
    }

    /// The texts of the `<member>`s of `list`.
    pub fn strings(&self, list: &str) -> Vec<String> {
        self.members(list)
            .into_iter()
            .map(|m| m.text.clone())
            .collect()
    }
}

fn local(name: &[u8]) -> String {
    let s = String::from_utf8_lossy(name);
    match s.rsplit_once(':') {
        Some((_, l)) => l.to_owned(),
        None => s.into_owned(),
    }
}

/// An IAM policy document as IAM answers it (RFC 3986-encoded), decoded.
pub fn decode_document(encoded: &str) -> String {
    percent_encoding::percent_decode_str(encoded)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iam_answers() {
        let xml = "<ListRolesResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\n\
            <ListRolesResult><Roles><member><RoleName>a&amp;b</RoleName></member>\
            <member><RoleName>c</RoleName></member></Roles><IsTruncated>false</IsTruncated>\
            </ListRolesResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>\
            </ListRolesResponse>";
        let n = Node::parse(xml).unwrap();
        assert_eq!(n.name, "ListRolesResponse");
        let names: Vec<&str> = n
            .members("Roles")
            .iter()
            .map(|m| m.text_of("RoleName"))
            .collect();
        assert_eq!(names, ["a&b", "c"]);
        assert_eq!(n.text_of("IsTruncated"), "false");
        assert_eq!(n.text_of("Missing"), "");
        let empty = Node::parse("<R><Roles/></R>").unwrap();
        assert!(empty.members("Roles").is_empty());
        assert!(Node::parse("<a><b></a>").is_err());
        assert_eq!(decode_document("%7B%22a%22%3A%201%7D"), "{\"a\": 1}");
    }
}

//! The little of S3's XML Berth reads (a listing's keys, an upload id, an error's code and
//! message) and writes (the parts of a multipart upload): elements found by name, entities
//! decoded. Not a general XML parser, and it need not be.

/// The text of every `<name>…</name>` in `doc`, in order.
pub fn all(doc: &str, name: &str) -> Vec<String> {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    let mut out = Vec::new();
    let mut rest = doc;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else {
            break;
        };
        out.push(unescape(&after[..end]));
        rest = &after[end + close.len()..];
    }
    out
}

/// The text of the first `<name>…</name>` in `doc`.
pub fn first(doc: &str, name: &str) -> Option<String> {
    all(doc, name).into_iter().next()
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#34;", "\"")
        .replace("&amp;", "&")
}

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listings_and_errors_read_back() {
        let doc = "<?xml version=\"1.0\"?><ListBucketResult><IsTruncated>true</IsTruncated>\
                   <Contents><Key>db/records/a.json</Key></Contents>\
                   <Contents><Key>db/a&amp;b.json</Key></Contents>\
                   <NextContinuationToken>t1</NextContinuationToken></ListBucketResult>";
        assert_eq!(all(doc, "Key"), ["db/records/a.json", "db/a&b.json"]);
        assert_eq!(first(doc, "IsTruncated").as_deref(), Some("true"));
        assert_eq!(first(doc, "Missing"), None);
        let etag = "\"9b2cf535f27731c974343645a3985328\"";
        assert_eq!(unescape(&escape(etag)), etag);
    }
}

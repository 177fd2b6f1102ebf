//! The ref advertisement an upload-pack server opens with, and resolving a user's ref name in it.

use crate::oid::Oid;
use crate::pktline::text;

/// One advertised ref; `peeled` is the commit an annotated tag points at (`name^{}` line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AdvertisedRef {
    pub(crate) name: String,
    pub(crate) oid: Oid,
    pub(crate) peeled: Option<Oid>,
}

/// Refs and capabilities as the server advertised them.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Advertisement {
    pub(crate) refs: Vec<AdvertisedRef>,
    pub(crate) capabilities: Vec<String>,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AdvertisementError {
    /// The server sent `ERR <message>`.
    Server(String),
    Malformed(String),
}

impl Advertisement {
    /// Parses the payloads of the advertisement's pkt-lines (everything before the flush).
    pub(crate) fn parse<'a>(
        lines: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Advertisement, AdvertisementError> {
        let mut adv = Advertisement::default();
        let mut first = true;
        for payload in lines {
            let line = payload.strip_suffix(b"\n").unwrap_or(payload);
            if let Some(msg) = line.strip_prefix(b"ERR ") {
                return Err(AdvertisementError::Server(text(msg)));
            }
            if line.starts_with(b"version ") || line.starts_with(b"shallow ") {
                continue;
            }
            let (line, caps) = match line.iter().position(|b| *b == 0) {
                Some(nul) => (&line[..nul], Some(&line[nul + 1..])),
                None => (line, None),
            };
            if let Some(caps) = caps {
                if !first {
                    return Err(AdvertisementError::Malformed(
                        "capabilities after the first ref line".to_owned(),
                    ));
                }
                adv.capabilities = String::from_utf8_lossy(caps)
                    .split(' ')
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned)
                    .collect();
            }
            first = false;
            let line = std::str::from_utf8(line)
                .map_err(|_| AdvertisementError::Malformed("a ref line is not UTF-8".to_owned()))?;
            let Some((hex, name)) = line.split_once(' ') else {
                return Err(AdvertisementError::Malformed(format!(
                    "ref line without a name: {line:?}"
                )));
            };
            let oid = Oid::from_hex(hex).ok_or_else(|| {
                AdvertisementError::Malformed(format!("bad object id in ref line {line:?}"))
            })?;
            // An empty repository advertises only its capabilities on a zero id.
            if oid == Oid::ZERO && name == "capabilities^{}" {
                continue;
            }
            if let Some(base) = name.strip_suffix("^{}") {
                match adv.refs.last_mut() {
                    Some(last) if last.name == base => last.peeled = Some(oid),
                    _ => {
                        return Err(AdvertisementError::Malformed(format!(
                            "peeled ref {name} does not follow {base}"
                        )));
                    }
                }
                continue;
            }
            adv.refs.push(AdvertisedRef {
                name: name.to_owned(),
                oid,
                peeled: None,
            });
        }
        Ok(adv)
    }

    pub(crate) fn has_capability(&self, name: &str) -> bool {
        self.capabilities.iter().any(|c| c == name)
    }

    /// Finds `git_ref` the way `git fetch` users expect: an exact `refs/…` (or `HEAD`) name,
    /// else the branch, else the tag. `Err` carries a few branch names for the message.
    pub(crate) fn resolve(&self, git_ref: &str) -> Result<&AdvertisedRef, Vec<String>> {
        let candidates: Vec<String> = if git_ref.starts_with("refs/") || git_ref == "HEAD" {
            vec![git_ref.to_owned()]
        } else {
            vec![
                format!("refs/heads/{git_ref}"),
                format!("refs/tags/{git_ref}"),
            ]
        };
        for want in &candidates {
            if let Some(r) = self.refs.iter().find(|r| &r.name == want) {
                return Ok(r);
            }
        }
        let mut branches: Vec<String> = self
            .refs
            .iter()
            .filter_map(|r| r.name.strip_prefix("refs/heads/"))
            .map(str::to_owned)
            .collect();
        branches.sort();
        branches.truncate(8);
        Err(branches)
    }
}

impl AdvertisedRef {
    /// What the ref finally names: the peeled commit for an annotated tag.
    pub(crate) fn target(&self) -> Oid {
        self.peeled.unwrap_or(self.oid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "1111111111111111111111111111111111111111";
    const B: &str = "2222222222222222222222222222222222222222";
    const C: &str = "3333333333333333333333333333333333333333";

    fn parse(lines: &[String]) -> Result<Advertisement, AdvertisementError> {
        Advertisement::parse(lines.iter().map(|l| l.as_bytes()))
    }

    fn sample() -> Advertisement {
        let lines = vec![
            format!("{A} HEAD\0multi_ack side-band-64k ofs-delta shallow agent=git/2.43\n"),
            format!("{A} refs/heads/main\n"),
            format!("{B} refs/heads/dev\n"),
            format!("{B} refs/tags/dev\n"),
            format!("{C} refs/tags/v1\n"),
            format!("{A} refs/tags/v1^{{}}\n"),
        ];
        parse(&lines).unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn parses_refs_capabilities_and_peeled_tags() {
        let adv = sample();
        assert_eq!(
            adv.capabilities,
            [
                "multi_ack",
                "side-band-64k",
                "ofs-delta",
                "shallow",
                "agent=git/2.43"
            ]
        );
        assert!(adv.has_capability("ofs-delta"));
        assert!(!adv.has_capability("side-band"));
        let names: Vec<&str> = adv.refs.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "HEAD",
                "refs/heads/main",
                "refs/heads/dev",
                "refs/tags/dev",
                "refs/tags/v1"
            ]
        );
        let v1 = &adv.refs[4];
        assert_eq!(v1.oid.to_hex(), C);
        assert_eq!(v1.target().to_hex(), A);
    }

    #[test]
    fn resolves_exact_then_branch_then_tag() {
        let adv = sample();
        let target = |r: &str| {
            adv.resolve(r)
                .map(|r| (r.name.clone(), r.target().to_hex()))
        };
        assert_eq!(target("main"), Ok(("refs/heads/main".into(), A.into())));
        // A branch wins over a tag of the same name.
        assert_eq!(target("dev"), Ok(("refs/heads/dev".into(), B.into())));
        assert_eq!(
            target("refs/tags/dev"),
            Ok(("refs/tags/dev".into(), B.into()))
        );
        assert_eq!(target("v1"), Ok(("refs/tags/v1".into(), A.into())));
        assert_eq!(target("HEAD"), Ok(("HEAD".into(), A.into())));
        assert_eq!(target("nope"), Err(vec!["dev".into(), "main".into()]));
        assert_eq!(
            target("refs/heads/v1"),
            Err(vec!["dev".into(), "main".into()])
        );
    }

    #[test]
    fn empty_repository_has_capabilities_but_no_refs() {
        let adv = parse(&[
            "0000000000000000000000000000000000000000 capabilities^{}\0ofs-delta side-band-64k\n"
                .to_owned(),
        ])
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert!(adv.refs.is_empty());
        assert!(adv.has_capability("side-band-64k"));
        assert!(parse(&[]).map(|a| a.refs.is_empty()).unwrap_or(false));
    }

    #[test]
    fn server_errors_and_garbage_are_reported() {
        assert_eq!(
            parse(&["ERR access denied or repository not exported: /x\n".into()]),
            Err(AdvertisementError::Server(
                "access denied or repository not exported: /x".into()
            ))
        );
        assert!(matches!(
            parse(&["not-a-sha refs/heads/main\n".into()]),
            Err(AdvertisementError::Malformed(_))
        ));
        assert!(matches!(
            parse(&[format!("{A} refs/tags/x^{{}}\n")]),
            Err(AdvertisementError::Malformed(_))
        ));
    }
}

//! Case-insensitive access to a request's headers, whatever collection the caller keeps them in.

use std::collections::{BTreeMap, HashMap};

/// Case-insensitive header lookup. When a header is repeated, the first value counts.
pub trait Headers {
    fn get(&self, name: &str) -> Option<&str>;
}

fn find<'a, K, V>(pairs: impl IntoIterator<Item = (&'a K, &'a V)>, name: &str) -> Option<&'a str>
where
    K: AsRef<str> + 'a + ?Sized,
    V: AsRef<str> + 'a + ?Sized,
{
    pairs
        .into_iter()
        .find(|(k, _)| k.as_ref().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_ref())
}

/// `[(String, String)]`, `[(&str, &str)]` and mixes of the two.
impl<K: AsRef<str>, V: AsRef<str>> Headers for [(K, V)] {
    fn get(&self, name: &str) -> Option<&str> {
        find(self.iter().map(|(k, v)| (k, v)), name)
    }
}

impl<K: AsRef<str>, V: AsRef<str>> Headers for Vec<(K, V)> {
    fn get(&self, name: &str) -> Option<&str> {
        Headers::get(self.as_slice(), name)
    }
}

impl<K: AsRef<str>, V: AsRef<str>, const N: usize> Headers for [(K, V); N] {
    fn get(&self, name: &str) -> Option<&str> {
        Headers::get(self.as_slice(), name)
    }
}

impl<K: AsRef<str>, V: AsRef<str>, S> Headers for HashMap<K, V, S> {
    fn get(&self, name: &str) -> Option<&str> {
        find(self.iter(), name)
    }
}

impl<K: AsRef<str>, V: AsRef<str>> Headers for BTreeMap<K, V> {
    fn get(&self, name: &str) -> Option<&str> {
        find(self.iter(), name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_ignores_case_and_keeps_the_first() {
        let owned: Vec<(String, String)> = vec![
            ("X-GitHub-Event".into(), "push".into()),
            ("x-github-event".into(), "ping".into()),
        ];
        assert_eq!(Headers::get(&owned, "x-github-event"), Some("push"));
        assert_eq!(
            Headers::get(owned.as_slice(), "X-GITHUB-EVENT"),
            Some("push")
        );
        assert_eq!(Headers::get(&owned, "X-GitHub-Delivery"), None);

        let borrowed = [("Content-Type", "application/json")];
        assert_eq!(
            Headers::get(&borrowed, "content-type"),
            Some("application/json")
        );
        assert_eq!(
            Headers::get(&borrowed[..], "content-type"),
            Some("application/json")
        );

        let map: HashMap<String, String> = [("Authorization".into(), "Bearer x".into())].into();
        assert_eq!(Headers::get(&map, "authorization"), Some("Bearer x"));
        let dynamic: &dyn Headers = &owned;
        assert_eq!(dynamic.get("X-Github-Event"), Some("push"));
    }
}

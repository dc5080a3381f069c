//! Docker's `filters.Args`: `key=value` filters where the same key ORs and different keys AND —
//! what `ps -f`, `events -f`, `volume ls -f` and the API's `filters=` all speak. This is the
//! parsing and the grouping by key, once; what a key means is its listing's (containers, events,
//! volumes).
//!
//! Not here: docker's JSON form of the filters (the daemon reads it into pairs), or matching.

/// Filters grouped by key, keys in the order first given.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Args(Vec<(String, Vec<String>)>);

impl Args {
    /// Reads `key=value` pairs. A key not in `allowed` is refused with `unknown(key)` (the
    /// listing says which keys it takes); a pair without `=` with docker's words.
    pub fn parse(
        raw: &[String],
        allowed: &[&str],
        unknown: &dyn Fn(&str) -> String,
    ) -> Result<Args, String> {
        let mut out = Args::default();
        for r in raw {
            let (k, v) = r
                .split_once('=')
                .ok_or_else(|| format!("bad format of filter {r:?}: expected name=value"))?;
            if !allowed.contains(&k) {
                return Err(unknown(k));
            }
            match out.0.iter_mut().find(|(key, _)| key == k) {
                Some((_, vs)) => vs.push(v.to_string()),
                None => out.0.push((k.to_string(), vec![v.to_string()])),
            }
        }
        Ok(out)
    }

    /// Every key with its values.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.0.iter().map(|(k, vs)| (k.as_str(), vs.as_slice()))
    }

    /// Whether `key` was given.
    pub fn has(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }

    /// Takes `key`'s values out.
    pub fn remove(&mut self, key: &str) -> Option<Vec<String>> {
        let i = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(i).1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn values_of_one_key_are_grouped_in_order() {
        let unknown = |k: &str| format!("no {k}");
        let a = Args::parse(&raw(&["a=1", "b=2", "a=3"]), &["a", "b"], &unknown).unwrap();
        let got: Vec<_> = a.iter().map(|(k, v)| (k.to_string(), v.to_vec())).collect();
        assert_eq!(
            got,
            [("a".into(), raw(&["1", "3"])), ("b".into(), raw(&["2"]))]
        );
        assert!(a.has("b") && !a.has("c"));
        let mut a = a;
        assert_eq!(a.remove("a"), Some(raw(&["1", "3"])));
        assert!(!a.has("a"));
    }

    #[test]
    fn unknown_keys_and_pairs_without_a_value_are_refused() {
        let unknown = |k: &str| format!("no {k}");
        assert_eq!(
            Args::parse(&raw(&["c=1"]), &["a"], &unknown).unwrap_err(),
            "no c"
        );
        assert_eq!(
            Args::parse(&raw(&["a"]), &["a"], &unknown).unwrap_err(),
            "bad format of filter \"a\": expected name=value"
        );
    }
}

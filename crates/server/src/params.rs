//! Query-string parameters, repeated or comma-separated, as Marketo clients send them.

use crate::api::ApiError;

/// Decoded `name=value` pairs in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    /// Parses a raw query string (percent-decoding, `+` as space).
    pub(crate) fn parse(query: Option<&str>) -> Params {
        Params(
            query
                .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
                .unwrap_or_default(),
        )
    }

    /// Appends pairs from a form body.
    pub(crate) fn extend_form(&mut self, body: &[u8]) {
        self.0.extend(form_urlencoded::parse(body).into_owned());
    }

    /// The first value of `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// All values of `name`, repeated params and comma-separated lists alike, blanks dropped.
    pub(crate) fn list(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name || k.strip_suffix("[]") == Some(name))
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// All values of `name` as numbers; 1001 on the first that is not one.
    pub(crate) fn numbers<T: std::str::FromStr>(
        &self,
        name: &str,
        kind: &str,
    ) -> Result<Vec<T>, ApiError> {
        self.list(name)
            .iter()
            .map(|s| s.parse().map_err(|_| ApiError::invalid_value(s, kind)))
            .collect()
    }

    /// Back to a query string.
    pub(crate) fn encode(&self) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.0 {
            s.append_pair(k, v);
        }
        s.finish()
    }

    /// Drops every pair named `name`.
    pub(crate) fn remove(&mut self, name: &str) {
        self.0.retain(|(k, _)| k != name);
    }
}

/// Reads a boolean the way Python clients send it (`True`, `true`, `1`).
pub(crate) fn truthy(v: &str) -> bool {
    matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_accept_both_forms() {
        let p = Params::parse(Some(
            "activityTypeIds=1,12&activityTypeIds=13&leadIds=5&nextPageToken=AB%3D%3D&x=a+b",
        ));
        assert_eq!(p.list("activityTypeIds"), vec!["1", "12", "13"]);
        assert_eq!(
            p.numbers::<u32>("activityTypeIds", "integer").unwrap(),
            vec![1, 12, 13]
        );
        assert_eq!(p.get("nextPageToken"), Some("AB=="));
        assert_eq!(p.get("x"), Some("a b"));
        assert_eq!(
            p.numbers::<u64>("x", "integer").unwrap_err().code,
            crate::ErrorCode::InvalidValue
        );
        assert!(truthy("True") && !truthy("false"));
    }
}

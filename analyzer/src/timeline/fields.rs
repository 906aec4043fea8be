//! The typed details of an entry: a few values under fixed names.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

/// An entry's details: values under static names, kept sorted by name, serialized as a JSON
/// object. A `serde_json::Map` would do, but costs a 640-byte tree node and a string per name
/// for each of the hundreds of thousands of entries a large trace makes; this costs one small
/// vector.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields(Vec<(&'static str, Value)>);

impl Fields {
    /// Empty, with room for the few names most entries have.
    pub fn new() -> Fields {
        Fields(Vec::with_capacity(5))
    }

    /// Sets `name` to `value`; returns the value it replaces.
    pub fn insert(&mut self, name: &'static str, value: impl Into<Value>) -> Option<Value> {
        match self.0.binary_search_by(|(k, _)| (*k).cmp(name)) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value.into())),
            Err(i) => {
                self.0.insert(i, (name, value.into()));
                None
            }
        }
    }

    /// The value under `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0
            .binary_search_by(|(k, _)| (*k).cmp(name))
            .ok()
            .map(|i| &self.0[i].1)
    }

    /// Names and values, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &Value)> {
        self.0.iter().map(|(k, v)| (*k, v))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The details as a JSON object.
    pub fn to_map(&self) -> Map<String, Value> {
        self.iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }
}

impl Serialize for Fields {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut m = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_stay_sorted_and_serialize_as_an_object() {
        let mut f = Fields::new();
        assert!(f.insert("path", "/etc/passwd").is_none());
        f.insert("fd", 3);
        f.insert("argv", vec!["cat"]);
        assert_eq!(f.insert("fd", 4), Some(Value::from(3)));
        assert_eq!(f.get("fd"), Some(&Value::from(4)));
        assert_eq!(f.get("nope"), None);
        assert_eq!(
            serde_json::to_string(&f).unwrap(),
            r#"{"argv":["cat"],"fd":4,"path":"/etc/passwd"}"#
        );
        assert_eq!(
            Value::Object(f.to_map()),
            serde_json::json!({"argv": ["cat"], "fd": 4, "path": "/etc/passwd"})
        );
        assert_eq!(f.len(), 3);
    }
}

//! YAML request bodies decoded with a bound on alias expansion. An anchor (`&a`) named by
//! many aliases (`*a`) expands each time it is named, so a 1 MB body can stand for billions
//! of nodes ("billion laughs"). The decoder counts what it builds, one per node plus the bytes
//! of each string, and stops as soon as that passes a small multiple of the body's own size:
//! a body without aliases never comes near it, and a bomb is refused after bounded work.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::cell::Cell;
use std::fmt;

/// How much larger than its body a decoded document may be (nodes plus string bytes).
pub const MAX_EXPANSION_RATIO: usize = 2;
/// What any body may decode to, however small, so short documents with a few aliases pass.
const MIN_BUDGET: usize = 64 * 1024;

/// Why a body was refused.
#[derive(Debug, thiserror::Error)]
pub enum YamlError {
    #[error("the YAML body expands to more than {ratio} times its size through aliases")]
    Expansion { ratio: usize },
    #[error("{0}")]
    Syntax(String),
}

/// Decode one YAML document into JSON, within the expansion budget of `text`'s size.
pub fn decode_bounded(text: &str) -> Result<Value, YamlError> {
    let budget = Cell::new(
        text.len()
            .saturating_mul(MAX_EXPANSION_RATIO)
            .max(MIN_BUDGET),
    );
    let seed = Bounded { budget: &budget };
    match seed.deserialize(yaml_serde::Deserializer::from_str(text)) {
        Ok(value) => Ok(value),
        Err(_) if budget.get() == 0 => Err(YamlError::Expansion {
            ratio: MAX_EXPANSION_RATIO,
        }),
        Err(e) => Err(YamlError::Syntax(e.to_string())),
    }
}

/// Builds a JSON value, spending `budget` as it goes and failing once it is spent.
#[derive(Clone, Copy)]
struct Bounded<'a> {
    budget: &'a Cell<usize>,
}

impl Bounded<'_> {
    fn spend<E: de::Error>(&self, amount: usize) -> Result<(), E> {
        let left = self.budget.get();
        if amount > left {
            self.budget.set(0);
            return Err(E::custom("alias expansion limit exceeded"));
        }
        self.budget.set(left - amount);
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Bounded<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Bounded<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        self.spend(1)?;
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        self.spend(1)?;
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        self.spend(1)?;
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        self.spend(1)?;
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.spend(1 + v.len())?;
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        self.spend(1 + v.len())?;
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.spend(1)?;
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        self.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        self.spend(1)?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        self.spend(1)?;
        let mut object = Map::new();
        while let Some(key) = map.next_key_seed(self)? {
            let key = match key {
                Value::String(key) => key,
                // JSON has only string keys; YAML's others are written as text, as
                // sigs.k8s.io/yaml's conversion does.
                Value::Null => "null".to_string(),
                other => other.to_string(),
            };
            let value = map.next_value_seed(self)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_documents_decode_as_json() {
        let value = decode_bounded("a: 1\nb: [x, true, 2.5, ~]\nc: {d: e}\n").unwrap();
        assert_eq!(
            value,
            serde_json::json!({"a": 1, "b": ["x", true, 2.5, null], "c": {"d": "e"}})
        );
    }

    #[test]
    fn a_few_aliases_pass() {
        let text = "base: &b {image: busybox, ports: [1, 2]}\none: *b\ntwo: *b\n";
        let value = decode_bounded(text).unwrap();
        assert_eq!(value["two"]["image"], "busybox");
    }

    #[test]
    fn an_alias_bomb_is_refused_after_bounded_work() {
        // Nine levels of ten aliases each: 10^9 strings from a few hundred bytes.
        let mut text = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for level in 1..10 {
            let prev = format!("*a{}", level - 1);
            let items = [prev.as_str(); 10].join(", ");
            text.push_str(&format!("a{level}: &a{level} [{items}]\n"));
        }
        let started = std::time::Instant::now();
        assert!(matches!(
            decode_bounded(&text),
            Err(YamlError::Expansion { .. })
        ));
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn a_long_string_named_many_times_is_refused() {
        let long = "x".repeat(100_000);
        let mut text = format!("s: &s {long}\nl:\n");
        for _ in 0..1000 {
            text.push_str("- *s\n");
        }
        assert!(matches!(
            decode_bounded(&text),
            Err(YamlError::Expansion { .. })
        ));
    }
}

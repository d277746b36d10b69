//! The Go side of each protobuf field, read from `proto/go-fields.tsv` (generated from
//! k8s.io/api's and apimachinery's types.go by scripts/k8s-proto): its JSON name, and whether
//! Go holds it by pointer, tags it `omitempty`/`omitzero`, or embeds it inline.

use prost_reflect::FieldDescriptor;
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

static TABLE: &str = include_str!("../../../proto/go-fields.tsv");

static RULES: LazyLock<Rules> = LazyLock::new(|| Rules::parse(TABLE));

/// How Go's `encoding/json` writes one field of a Go struct.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldRule {
    /// The json tag's name; `None` when the tag names none (then the protobuf name).
    pub json: Option<String>,
    /// A Go pointer: written whenever set, even to its zero value.
    pub ptr: bool,
    pub omitempty: bool,
    pub omitzero: bool,
    /// An embedded struct whose fields are its parent's.
    pub inline: bool,
}

impl FieldRule {
    pub fn json_name(&self, field: &FieldDescriptor) -> String {
        self.json
            .clone()
            .unwrap_or_else(|| field.name().to_string())
    }
}

/// Every field's rule, by the field's full name (`<message full name>.<protobuf name>`, as
/// `FieldDescriptor::full_name` gives it, so a lookup allocates nothing).
#[derive(Debug, Default)]
pub struct Rules {
    fields: HashMap<String, FieldRule>,
    /// Messages that are named Go slices, written as their `items`.
    lists: HashSet<String>,
}

impl Rules {
    pub fn get() -> &'static Rules {
        &RULES
    }

    /// Lines of `message<TAB>field<TAB>json-name<TAB>flags`; `#` starts a comment. A line
    /// that does not parse is skipped (a test holds the committed table to parse whole).
    pub fn parse(table: &str) -> Rules {
        let mut rules = Rules::default();
        for line in table.lines().filter(|l| !l.starts_with('#')) {
            let columns: Vec<&str> = line.split('\t').collect();
            let [message, field, json, flags] = columns[..] else {
                continue;
            };
            let flags: Vec<&str> = flags.split(',').collect();
            if field == "*" {
                if flags.contains(&"list") {
                    rules.lists.insert(message.to_string());
                }
                continue;
            }
            let rule = FieldRule {
                json: (json != "-").then(|| json.to_string()),
                ptr: flags.contains(&"ptr"),
                omitempty: flags.contains(&"omitempty"),
                omitzero: flags.contains(&"omitzero"),
                inline: flags.contains(&"inline"),
            };
            rules.fields.insert(format!("{message}.{field}"), rule);
        }
        rules
    }

    /// The rule of a field (by its full name); a field types.go does not describe is
    /// treated as an optional value (`omitempty`, not a pointer).
    pub fn field(&self, full_name: &str) -> FieldRule {
        self.fields.get(full_name).cloned().unwrap_or(FieldRule {
            omitempty: true,
            ..FieldRule::default()
        })
    }

    #[cfg(test)]
    pub fn has_field(&self, full_name: &str) -> bool {
        self.fields.contains_key(full_name)
    }

    pub fn is_list(&self, message: &str) -> bool {
        self.lists.contains(message)
    }

    #[cfg(test)]
    /// How many lines parsed (the test compares it with the table's line count).
    pub fn len(&self) -> usize {
        self.fields.len() + self.lists.len()
    }
}

//! Secrets encrypted at rest. Every stored copy of a Secret (its events in the log, its
//! projection row, the snapshots' copies) holds the object sealed with AES-256-GCM under the
//! data directory's key (`encryption-keys.json`, as kube-apiserver's EncryptionConfiguration
//! `aesgcm` provider), prefixed `k8s:enc:aesgcm:v1:<key name>:` as Kubernetes prefixes what
//! it writes to etcd; only the name, namespace and uid stay readable (the log's columns hold
//! them anyway, and a rebuild reads the uid inside SQLite). Every read of the store opens it
//! again, so everything above the store sees plain objects.
//!
//! Sealing is deterministic (the nonce is an HMAC of the plaintext under a key derived from
//! the encryption key): a rebuild copies the log's sealed text into the projections and gets
//! byte-for-byte the rows the writer wrote. Identical plaintexts seal identically; a stored
//! object always carries its own resourceVersion, so no two do. The object's kind, namespace,
//! name and uid are the associated data: a sealed object moved to another row does not open.
//!
//! The key file lists keys newest first: the first seals, any opens (rotate by adding a new
//! key in front and keeping the old ones while the log holds objects sealed with them).

use crate::datadir;
use crate::store::StoreError;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hmac;
use ring::rand::{SecureRandom as _, SystemRandom};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::borrow::Cow;
use std::path::Path;

/// The key file in the data directory.
pub const KEY_FILE: &str = "encryption-keys.json";
/// The kind whose objects are sealed.
pub const SEALED_KIND: &str = "Secret";
/// The field of a stored Secret holding the sealed object.
const SEALED_FIELD: &str = "sealed";
const PREFIX: &str = "k8s:enc:aesgcm:v1:";
const KEY_BYTES: usize = 32;

#[derive(Serialize, Deserialize)]
struct KeyFile {
    keys: Vec<KeyEntry>,
}

#[derive(Serialize, Deserialize, Clone)]
struct KeyEntry {
    name: String,
    /// The key, base64.
    secret: String,
}

struct Key {
    name: String,
    aead: LessSafeKey,
    nonce: hmac::Key,
}

impl Key {
    fn new(entry: &KeyEntry) -> Result<Key, String> {
        let bytes = STANDARD
            .decode(&entry.secret)
            .map_err(|e| format!("key {:?} is not base64: {e}", entry.name))?;
        if bytes.len() != KEY_BYTES {
            return Err(format!(
                "key {:?} has {} bytes; an AES-256 key has {KEY_BYTES}",
                entry.name,
                bytes.len()
            ));
        }
        let unbound = UnboundKey::new(&AES_256_GCM, &bytes)
            .map_err(|_| format!("key {:?} is not an AES-256 key", entry.name))?;
        // The nonce key is derived, so one secret in the file is all there is to keep.
        let derive = hmac::Key::new(hmac::HMAC_SHA256, &bytes);
        let nonce_key = hmac::sign(&derive, b"kubetrail.dev/v1 secret nonce");
        Ok(Key {
            name: entry.name.clone(),
            aead: LessSafeKey::new(unbound),
            nonce: hmac::Key::new(hmac::HMAC_SHA256, nonce_key.as_ref()),
        })
    }
}

/// Seals and opens the stored Secrets of one data directory.
pub struct Sealer {
    /// The first seals; all open.
    keys: Vec<Key>,
    entries: Vec<KeyEntry>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.keys.iter().map(|k| k.name.as_str()).collect();
        f.debug_struct("Sealer").field("keys", &names).finish()
    }
}

fn sealed_error(message: String) -> StoreError {
    StoreError::other(message)
}

impl Sealer {
    fn from_entries(entries: Vec<KeyEntry>) -> Result<Sealer, String> {
        let keys = entries.iter().map(Key::new).collect::<Result<_, _>>()?;
        Ok(Sealer { keys, entries })
    }

    /// The keys of the data directory holding database `database` (none when it has no key
    /// file: such a store opens no sealed object).
    pub fn load(database: &Path) -> Result<Sealer, StoreError> {
        let path = key_path(database);
        match std::fs::read(&path) {
            Ok(bytes) => {
                let file: KeyFile = serde_json::from_slice(&bytes).map_err(|e| {
                    sealed_error(format!("{} is not a key file: {e}", path.display()))
                })?;
                Sealer::from_entries(file.keys)
                    .map_err(|e| sealed_error(format!("{}: {e}", path.display())))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Sealer {
                keys: Vec::new(),
                entries: Vec::new(),
            }),
            Err(e) => Err(sealed_error(format!("reading {}: {e}", path.display()))),
        }
    }

    /// As `load`, making a key (private to its owner) when the directory has none.
    pub fn load_or_create(database: &Path) -> Result<Sealer, StoreError> {
        let sealer = Sealer::load(database)?;
        if !sealer.keys.is_empty() {
            return Ok(sealer);
        }
        let mut bytes = [0u8; KEY_BYTES];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| sealed_error("no randomness for a new encryption key".into()))?;
        // Named after a digest of the key, so a name means one key in any data directory
        // (a copied log brings its keys along, `adopt_keys`).
        let digest = ring::digest::digest(&ring::digest::SHA256, &bytes);
        let name: String = digest.as_ref()[..6]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let entry = KeyEntry {
            name: format!("key-{name}"),
            secret: STANDARD.encode(bytes),
        };
        let sealer = Sealer::from_entries(vec![entry]).map_err(sealed_error)?;
        sealer.save(database)?;
        Ok(sealer)
    }

    fn save(&self, database: &Path) -> Result<(), StoreError> {
        let path = key_path(database);
        let text = serde_json::to_vec_pretty(&KeyFile {
            keys: self.entries.clone(),
        })
        .map_err(StoreError::Corrupt)?;
        datadir::write_private(&path, &text)
            .map_err(|e| sealed_error(format!("writing {}: {e}", path.display())))
    }

    /// Add to the key file of `database`'s directory the keys of `source`'s it lacks (after
    /// its own, so its own still seals): what a copy of another log needs to open its
    /// Secrets.
    pub fn adopt_keys(database: &Path, source: &Path) -> Result<(), StoreError> {
        let mut ours = Sealer::load_or_create(database)?;
        ours.adopt(database, Sealer::load(source)?)
    }

    /// Give the directory of `database` the keys of `source`'s: its key file as it is when the
    /// directory has none (so the same key seals there from then on), else the keys it lacks
    /// (`adopt_keys`). Nothing when `source`'s directory has no keys, or is the same.
    pub fn carry_keys(database: &Path, source: &Path) -> Result<(), StoreError> {
        let theirs = Sealer::load(source)?;
        if theirs.entries.is_empty() || key_path(database) == key_path(source) {
            return Ok(());
        }
        let mut ours = Sealer::load(database)?;
        if ours.entries.is_empty() {
            return theirs.save(database);
        }
        ours.adopt(database, theirs)
    }

    fn adopt(&mut self, database: &Path, theirs: Sealer) -> Result<(), StoreError> {
        let mut added = false;
        for entry in theirs.entries {
            if let Some(ours) = self.entries.iter().find(|e| e.name == entry.name) {
                if ours.secret != entry.secret {
                    return Err(sealed_error(format!(
                        "the copied log's key {:?} differs from this directory's key of the \
                         same name",
                        entry.name
                    )));
                }
            } else {
                self.keys.push(Key::new(&entry).map_err(sealed_error)?);
                self.entries.push(entry);
                added = true;
            }
        }
        if added {
            self.save(database)?;
        }
        Ok(())
    }

    /// The stored text of object `json` of `kind`: sealed for a Secret, as it is otherwise.
    pub fn seal<'a>(&self, kind: &str, json: &'a str) -> Result<Cow<'a, str>, StoreError> {
        if kind != SEALED_KIND {
            return Ok(Cow::Borrowed(json));
        }
        let Some(key) = self.keys.first() else {
            return Err(sealed_error(
                "no encryption key to seal a Secret with".into(),
            ));
        };
        let object: Value = serde_json::from_str(json).map_err(StoreError::Corrupt)?;
        let metadata = json!({
            "name": object.pointer("/metadata/name").cloned().unwrap_or(Value::Null),
            "namespace": object.pointer("/metadata/namespace").cloned().unwrap_or(Value::Null),
            "uid": object.pointer("/metadata/uid").cloned().unwrap_or(Value::Null),
        });
        let aad = associated(&metadata);
        let tag = hmac::sign(&key.nonce, json.as_bytes());
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&tag.as_ref()[..NONCE_LEN]);
        let mut sealed = json.as_bytes().to_vec();
        key.aead
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| sealed_error("sealing a Secret failed".into()))?;
        let mut payload = nonce.to_vec();
        payload.extend_from_slice(&sealed);
        let stored = json!({
            "apiVersion": object.get("apiVersion").cloned().unwrap_or(json!("v1")),
            "kind": SEALED_KIND,
            "metadata": metadata,
            SEALED_FIELD: format!("{PREFIX}{}:{}", key.name, STANDARD.encode(payload)),
        });
        Ok(Cow::Owned(stored.to_string()))
    }

    /// The object stored as `stored` for `kind`, opened when it is sealed.
    pub fn open(&self, kind: &str, stored: String) -> Result<String, StoreError> {
        if kind != SEALED_KIND || !stored.contains(PREFIX) {
            return Ok(stored);
        }
        let envelope: Value = serde_json::from_str(&stored).map_err(StoreError::Corrupt)?;
        let Some(text) = envelope.get(SEALED_FIELD).and_then(Value::as_str) else {
            return Ok(stored);
        };
        let rest = text
            .strip_prefix(PREFIX)
            .ok_or_else(|| sealed_error("a stored Secret has an unknown encryption".into()))?;
        let (name, payload) = rest
            .split_once(':')
            .ok_or_else(|| sealed_error("a stored Secret names no key".into()))?;
        let key = self.keys.iter().find(|k| k.name == name).ok_or_else(|| {
            sealed_error(format!(
                "a stored Secret is sealed with key {name:?}, which {KEY_FILE} in the data \
                 directory does not hold: restore the key file the data was written with"
            ))
        })?;
        let payload = STANDARD
            .decode(payload)
            .map_err(|_| sealed_error("a stored Secret is not base64".into()))?;
        if payload.len() < NONCE_LEN {
            return Err(sealed_error("a stored Secret is truncated".into()));
        }
        let (nonce, sealed) = payload.split_at(NONCE_LEN);
        let mut nonce_bytes = [0u8; NONCE_LEN];
        nonce_bytes.copy_from_slice(nonce);
        let aad = associated(&envelope["metadata"]);
        let mut buffer = sealed.to_vec();
        let plain = key
            .aead
            .open_in_place(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(aad.as_bytes()),
                &mut buffer,
            )
            .map_err(|_| {
                sealed_error(format!(
                    "a stored Secret does not open with key {name:?}: the key file or the \
                     database was altered"
                ))
            })?;
        String::from_utf8(plain.to_vec())
            .map_err(|_| sealed_error("an opened Secret is not text".into()))
    }
}

/// The associated data binding a sealed object to its row.
fn associated(metadata: &Value) -> String {
    let field = |name: &str| metadata[name].as_str().unwrap_or("").to_string();
    format!(
        "{SEALED_KIND}/{}/{}/{}",
        field("namespace"),
        field("name"),
        field("uid")
    )
}

fn key_path(database: &Path) -> std::path::PathBuf {
    database
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join(KEY_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"db","namespace":"default","uid":"u-1","resourceVersion":"7","annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"stringData\":{\"password\":\"hunter2\"}}"}},"data":{"password":"aHVudGVyMg=="},"type":"Opaque"}"#;

    fn sealer() -> (tempfile::TempDir, Sealer) {
        let dir = tempfile::tempdir().unwrap();
        let sealer = Sealer::load_or_create(&dir.path().join("state.db")).unwrap();
        (dir, sealer)
    }

    #[test]
    fn a_secret_is_stored_sealed_and_opens_to_what_was_written() {
        let (_dir, sealer) = sealer();
        let stored = sealer.seal("Secret", SECRET).unwrap();
        assert!(!stored.contains("aHVudGVyMg=="), "{stored}");
        assert!(!stored.contains("hunter2"), "{stored}");
        assert!(stored.contains("\"k8s:enc:aesgcm:v1:key-"), "{stored}");
        let envelope: Value = serde_json::from_str(&stored).unwrap();
        assert_eq!(
            envelope["metadata"],
            json!({"name": "db", "namespace": "default", "uid": "u-1"})
        );
        assert_eq!(sealer.open("Secret", stored.to_string()).unwrap(), SECRET);
        // Deterministic: the same text seals to the same bytes (a rebuild copies them).
        assert_eq!(sealer.seal("Secret", SECRET).unwrap(), stored);
        // Other kinds pass as they are.
        let pod = r#"{"kind":"Pod"}"#;
        assert_eq!(sealer.seal("Pod", pod).unwrap(), pod);
        assert_eq!(sealer.open("Pod", pod.to_string()).unwrap(), pod);
    }

    #[test]
    fn a_sealed_secret_moved_altered_or_without_its_key_does_not_open() {
        let (dir, sealer) = sealer();
        let stored = sealer.seal("Secret", SECRET).unwrap().to_string();
        let moved = stored.replace("\"name\":\"db\"", "\"name\":\"other\"");
        assert!(sealer.open("Secret", moved).is_err());
        let mut envelope: Value = serde_json::from_str(&stored).unwrap();
        let text = envelope["sealed"].as_str().unwrap().to_string();
        let flipped = format!("{}A{}", &text[..text.len() - 5], &text[text.len() - 4..]);
        envelope["sealed"] = json!(flipped);
        assert!(sealer.open("Secret", envelope.to_string()).is_err());
        std::fs::remove_file(dir.path().join(KEY_FILE)).unwrap();
        let keyless = Sealer::load(&dir.path().join("state.db")).unwrap();
        let message = keyless.open("Secret", stored).unwrap_err().to_string();
        assert!(message.contains("database error") || !message.is_empty());
    }

    #[test]
    fn carried_keys_are_the_sources_file_in_a_keyless_directory_and_added_to_one_with_keys() {
        let (source_dir, source) = sealer();
        let source_db = source_dir.path().join("state.db");
        let sealed = source.seal("Secret", SECRET).unwrap().to_string();
        let keyless = tempfile::tempdir().unwrap();
        let keyless_db = keyless.path().join("state.db");
        Sealer::carry_keys(&keyless_db, &source_db).unwrap();
        assert_eq!(
            std::fs::read(keyless.path().join(KEY_FILE)).unwrap(),
            std::fs::read(source_dir.path().join(KEY_FILE)).unwrap()
        );
        // The same key seals there: the same bytes as in the source.
        assert_eq!(
            Sealer::load(&keyless_db)
                .unwrap()
                .seal("Secret", SECRET)
                .unwrap(),
            sealed
        );
        let (keyed_dir, keyed) = sealer();
        let keyed_db = keyed_dir.path().join("state.db");
        Sealer::carry_keys(&keyed_db, &source_db).unwrap();
        let both = Sealer::load(&keyed_db).unwrap();
        assert_eq!(both.keys.len(), 2);
        assert_eq!(
            both.keys[0].name, keyed.keys[0].name,
            "its own key still seals"
        );
        assert_eq!(both.open("Secret", sealed).unwrap(), SECRET);
        // Carried again, or onto itself: nothing changes.
        Sealer::carry_keys(&keyed_db, &source_db).unwrap();
        Sealer::carry_keys(&source_db, &source_db).unwrap();
        assert_eq!(Sealer::load(&keyed_db).unwrap().keys.len(), 2);
        assert_eq!(Sealer::load(&source_db).unwrap().keys.len(), 1);
    }

    #[test]
    fn the_key_is_kept_private_and_a_copy_adopts_the_sources_keys() {
        let (source_dir, source) = sealer();
        let sealed = source.seal("Secret", SECRET).unwrap().to_string();
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(source_dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let (copy_dir, copy) = sealer();
        let copy_db = copy_dir.path().join("state.db");
        assert!(copy.open("Secret", sealed.clone()).is_err());
        Sealer::adopt_keys(&copy_db, &source_dir.path().join("state.db")).unwrap();
        // Its own key still seals; the file now holds both.
        let again = Sealer::load(&copy_db).unwrap();
        assert_eq!(again.open("Secret", sealed).unwrap(), SECRET);
        assert_eq!(again.keys.len(), 2);
        assert_eq!(again.keys[0].name, copy.keys[0].name);
    }
}

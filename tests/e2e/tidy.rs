//! Tidy: the invariants ARCHITECTURE.md states as absences, checked by reading the tree. Each
//! test names the invariant it holds; when one fails, either the code broke a rule on purpose
//! (then change ARCHITECTURE.md and this table together) or by accident.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`, relative to the repository root, sorted.
fn rust_files(dir: &str) -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(&root().join(dir), &mut found);
    let mut files: Vec<String> = found
        .iter()
        .filter_map(|p| p.strip_prefix(root()).ok())
        .map(|p| p.to_string_lossy().replace('\\', "/"))
        .collect();
    files.sort();
    files
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// The code of a file without its comments (line comments and doc comments; block comments
/// are not used in this tree).
fn code_of(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            // A `//` inside a string literal ("http://…") is not a comment.
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The code of a file up to its unit tests (`#[cfg(test)]` and all after it): what ships.
fn shipped_code_of(text: &str) -> String {
    let code = code_of(text);
    match code.find("#[cfg(test)]") {
        Some(at) => code[..at].to_string(),
        None => code,
    }
}

/// The crate's top-level modules a file names: `crate::x…` and `use crate::{x…, y…}`.
fn crate_modules_named(code: &str) -> BTreeSet<String> {
    let mut named = BTreeSet::new();
    let bytes = code.as_bytes();
    let mut from = 0;
    while let Some(at) = code[from..].find("crate::") {
        let start = from + at;
        from = start + "crate::".len();
        // `kubetrail::crate::` cannot occur; skip identifiers ending in `crate` (`foo_crate::`).
        if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
            continue;
        }
        let rest = &code[from..];
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level items of the group: identifiers right after `{` or a `,` at depth 0.
            let mut depth = 0usize;
            let mut expect_item = true;
            let mut ident = String::new();
            for ch in group.chars() {
                match ch {
                    '{' => {
                        depth += 1;
                        expect_item = false;
                    }
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => expect_item = true,
                    c if c.is_alphanumeric() || c == '_' => {
                        if expect_item && depth == 0 {
                            ident.push(c);
                        }
                    }
                    _ => {
                        if !ident.is_empty() {
                            named.insert(std::mem::take(&mut ident));
                            expect_item = false;
                        }
                    }
                }
            }
            if !ident.is_empty() {
                named.insert(ident);
            }
        } else {
            let ident: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !ident.is_empty() {
                named.insert(ident);
            }
        }
    }
    named.remove("self");
    named
}

/// Fail naming every place in `wrong`, under `what`, unless there are none.
fn assert_none(what: &str, wrong: Vec<String>) {
    assert!(wrong.is_empty(), "{what}:\n{}", wrong.join("\n"));
}

/// The top-level module a file of `src/` belongs to (`src/http/objects.rs` -> `http`).
fn module_of(path: &str) -> String {
    let rest = path.strip_prefix("src/").unwrap_or(path);
    let first = rest.split('/').next().unwrap_or(rest);
    first.trim_end_matches(".rs").to_string()
}

/// The layers of `src/`, bottom first, and which other top-level modules each may import. A
/// layer imports only layers below it; `app` (the composition root) is imported by `cli`
/// alone, and `cli` by nothing (the binary's `main.rs` calls it from outside the library).
const LAYERS: &[(&str, &[&str])] = &[
    ("api", &[]),
    ("shutdown", &[]),
    ("datadir", &[]),
    ("auth", &["datadir"]),
    ("model", &["api"]),
    ("metrics", &["api", "model"]),
    ("health", &["metrics"]),
    ("wire", &["api", "model"]),
    ("store", &["api", "model", "datadir"]),
    (
        "events",
        &["api", "model", "store", "health", "metrics", "shutdown"],
    ),
    (
        "projections",
        &["api", "model", "store", "events", "metrics", "shutdown"],
    ),
    (
        "workers",
        &[
            "auth",
            "api",
            "model",
            "store",
            "events",
            "projections",
            "health",
            "metrics",
            "shutdown",
        ],
    ),
    (
        "history",
        &[
            "api",
            "model",
            "wire",
            "store",
            "events",
            "projections",
            "workers",
        ],
    ),
    (
        "http",
        &[
            "auth",
            "api",
            "model",
            "wire",
            "store",
            "events",
            "projections",
            "history",
            "health",
            "metrics",
            "shutdown",
        ],
    ),
    (
        "app",
        &[
            "auth",
            "api",
            "model",
            "wire",
            "store",
            "events",
            "projections",
            "workers",
            "history",
            "http",
            "datadir",
            "health",
            "metrics",
            "shutdown",
        ],
    ),
    (
        "cli",
        &[
            "auth",
            "api",
            "model",
            "wire",
            "store",
            "events",
            "projections",
            "workers",
            "history",
            "http",
            "app",
            "datadir",
            "health",
            "metrics",
            "shutdown",
        ],
    ),
];

/// `lib.rs` declares them; `main.rs` is the binary, outside the library's layers.
const NOT_LAYERS: &[&str] = &["lib", "main"];

/// Files of `src/` declared as `#[cfg(test)] mod name;`: unit tests, which may reach further
/// than the code they test.
fn test_only_files() -> BTreeSet<String> {
    let mut files = BTreeSet::new();
    for file in rust_files("src") {
        let code = code_of(&read(&file));
        let dir = match file.rsplit_once('/') {
            Some((dir, name)) if name == "mod.rs" || name == "lib.rs" => dir.to_string(),
            Some((dir, name)) => format!("{dir}/{}", name.trim_end_matches(".rs")),
            None => continue,
        };
        let lines: Vec<&str> = code.lines().map(str::trim).collect();
        for pair in lines.windows(2) {
            if pair[0] == "#[cfg(test)]"
                && let Some(name) = pair[1]
                    .strip_prefix("mod ")
                    .and_then(|r| r.strip_suffix(';'))
            {
                files.insert(format!("{dir}/{name}.rs"));
                files.insert(format!("{dir}/{name}/mod.rs"));
            }
        }
    }
    files
}

#[test]
fn every_module_of_src_is_a_layer_and_imports_only_the_layers_below_it() {
    let layers: BTreeMap<&str, &[&str]> = LAYERS.iter().copied().collect();
    let mut wrong = Vec::new();
    let test_only = test_only_files();
    for file in rust_files("src") {
        let module = module_of(&file);
        if test_only.contains(&file) || NOT_LAYERS.contains(&module.as_str()) {
            continue;
        }
        let Some(allowed) = layers.get(module.as_str()) else {
            wrong.push(format!(
                "{file}: module `{module}` is not in tidy's LAYERS (nor ARCHITECTURE.md's)"
            ));
            continue;
        };
        for named in crate_modules_named(&shipped_code_of(&read(&file))) {
            if named != module && !allowed.contains(&named.as_str()) {
                wrong.push(format!("{file}: `{module}` imports `{named}`"));
            }
        }
    }
    assert_none("layers pointing the wrong way", wrong);
}

#[test]
fn only_store_names_sqlx_or_writes_sql() {
    let mut wrong = Vec::new();
    for file in rust_files("src") {
        if file.starts_with("src/store/") {
            continue;
        }
        let code = code_of(&read(&file));
        if code.contains("sqlx") {
            wrong.push(format!("{file}: names sqlx"));
        }
        for statement in SQL_STATEMENTS {
            if code.contains(statement) {
                wrong.push(format!("{file}: SQL `{statement}`"));
            }
        }
    }
    assert_none("SQL outside src/store/", wrong);
}

/// Statement openings that only SQL has.
const SQL_STATEMENTS: &[&str] = &[
    "INSERT INTO",
    "SELECT ",
    "DELETE FROM",
    "UPDATE objects",
    "UPDATE events",
    "CREATE TABLE",
    "PRAGMA",
];

#[test]
fn the_pure_layers_do_no_io() {
    // model and wire are pure functions of their arguments; decide is pure too (its clock and
    // uids arrive in DecideContext).
    let io = [
        "tokio",
        "actix",
        "bollard",
        "reqwest",
        "std::fs",
        "TcpStream",
        "TcpListener",
        "UdpSocket",
        "std::process",
        "SystemTime",
        "Instant::now",
        "Timestamp::now",
        "rand::",
    ];
    let mut files: Vec<String> = rust_files("src/model");
    files.extend(rust_files("src/wire"));
    files.extend(rust_files("src/api"));
    files.push("src/events/decide.rs".to_string());
    let mut wrong = Vec::new();
    for file in files {
        let code = shipped_code_of(&read(&file));
        for name in io {
            if code.contains(name) {
                wrong.push(format!("{file}: {name}"));
            }
        }
    }
    assert_none("I/O in a pure layer", wrong);
}

/// The string constants `src/api/actors.rs` defines: (name, value).
fn actor_names() -> Vec<(String, String)> {
    let code = shipped_code_of(&read("src/api/actors.rs"));
    let mut names = Vec::new();
    for line in code.lines() {
        let line = line.trim();
        let Some(rest) = line.strip_prefix("pub const ") else {
            continue;
        };
        let Some((name, value)) = rest.split_once(": &str = ") else {
            continue;
        };
        let value = value.trim_end_matches(';').trim_matches('"');
        names.push((name.to_string(), value.to_string()));
    }
    names
}

#[test]
fn each_actor_name_is_defined_once() {
    let names = actor_names();
    assert!(
        names.len() >= 7,
        "src/api/actors.rs defines the five controllers, the system actor and the kubelet prefix: {names:?}"
    );
    let mut wrong = Vec::new();
    for file in rust_files("src") {
        if file == "src/api/actors.rs" {
            continue;
        }
        let code = shipped_code_of(&read(&file));
        for (name, value) in &names {
            if code.contains(&format!("\"{value}\"")) {
                wrong.push(format!("{file}: \"{value}\" (api::actors::{name})"));
            }
        }
    }
    assert_none("actor names spelled out of src/api/actors.rs", wrong);
}

#[test]
fn each_controller_is_registered_with_its_actor_and_checked() {
    // The registry (`workers::controllers`) is what spawn_workers, `why` and
    // `replay --check-workers` read; each controller's actor comes from api::actors.
    let registry = shipped_code_of(&read("src/workers/controller.rs"))
        + &shipped_code_of(&read("src/workers/mod.rs"));
    let check = read("src/history/check.rs");
    assert!(
        check.contains("controllers(") || check.contains("today()"),
        "history::check takes its controllers from the registry"
    );
    for file in rust_files("src/workers") {
        let code = shipped_code_of(&read(&file));
        for (at, _) in code.match_indices("impl Controller for ") {
            let name: String = code[at + "impl Controller for ".len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            assert!(
                registry.contains(&name),
                "{file}: controller {name} is not in the registry (workers::controllers)"
            );
            let body = &code[at..];
            let end = body.find("\n}\n").unwrap_or(body.len());
            assert!(
                body[..end].contains("actors::"),
                "{file}: controller {name} names its actor from api::actors"
            );
        }
    }
}

/// The paths ARCHITECTURE.md's codemap names, folders ending in `/`.
fn codemap_paths() -> Vec<String> {
    let text = read("ARCHITECTURE.md");
    let start = text
        .find("## Codemap")
        .expect("ARCHITECTURE.md has a codemap");
    let block = &text[start..];
    let open = block.find("```").expect("codemap block") + 3;
    let close = open + block[open..].find("```").expect("codemap block ends");
    let mut paths = Vec::new();
    // (indent, folder) of the folders the following indented lines are inside.
    let mut folders: Vec<(usize, String)> = Vec::new();
    for line in block[open..close].lines() {
        let indent = line.len() - line.trim_start().len();
        let Some(token) = line.split_whitespace().next() else {
            continue;
        };
        let looks_like_path = token.ends_with(".rs")
            || token.ends_with('/')
            || token.starts_with("scripts/")
            || token.ends_with(".md");
        // Description lines continue at a deep indent and start with words, not paths.
        if !looks_like_path || indent > 24 {
            continue;
        }
        while folders.last().is_some_and(|(i, _)| *i >= indent) {
            folders.pop();
        }
        let path = match folders.last() {
            Some((_, folder)) if indent > 0 => format!("{folder}{token}"),
            _ => token.to_string(),
        };
        if path.ends_with('/') {
            folders.push((indent, path.clone()));
        }
        paths.push(path);
    }
    paths
}

#[test]
fn the_codemap_matches_the_tree() {
    let paths = codemap_paths();
    let mut wrong = Vec::new();
    for path in &paths {
        if !root().join(path).exists() {
            wrong.push(format!("the codemap names {path}, which does not exist"));
        }
    }
    let listed: BTreeSet<&str> = paths.iter().map(String::as_str).collect();
    for file in rust_files("src") {
        // A folder two levels down (`src/model/validation/`) may be listed as a whole; a
        // top-level module's files are each listed.
        let parent = file.rsplit_once('/').map(|(dir, _)| format!("{dir}/"));
        let folder_listed = parent
            .as_deref()
            .is_some_and(|dir| dir.matches('/').count() >= 3 && listed.contains(dir));
        if !listed.contains(file.as_str()) && !folder_listed {
            wrong.push(format!("{file} is missing from the codemap"));
        }
    }
    for dir in ["tests/e2e", "tests/support", "benches"] {
        for file in rust_files(dir) {
            let folder_listed = Path::new(&file)
                .ancestors()
                .skip(1)
                .any(|a| listed.contains(format!("{}/", a.display()).as_str()));
            if !listed.contains(file.as_str()) && !folder_listed {
                wrong.push(format!("{file} is missing from the codemap"));
            }
        }
    }
    assert_none("ARCHITECTURE.md's codemap and the tree differ", wrong);
}

/// What only a shared fixture of `tests/support` may do: (marker in the code, the fixture).
const FIXTURE_MARKERS: &[(&str, &str)] = &[
    (
        "CARGO_BIN_EXE_kubetrail",
        "support::binary starts the binary",
    ),
    (
        "export KUBECONFIG=",
        "support::binary reads what the binary prints",
    ),
    ("fn kubectl_binary", "support::kubectl finds kubectl"),
    ("\"KUBECTL\"", "support::kubectl reads KUBECTL"),
    ("fn eventually", "support::wait polls"),
    ("fn until", "support::wait polls"),
    ("Command::new(\"docker\")", "support::docker runs docker"),
    ("HttpServer::new", "support::app serves in process"),
];

#[test]
fn each_test_fixture_is_defined_once() {
    // A suite that starts the binary, finds kubectl or polls on its own has copied a fixture
    // instead of sharing it. (Building the application is allowed where a test checks that
    // building fails.)
    let mut wrong = Vec::new();
    for file in rust_files("tests/e2e") {
        if file == "tests/e2e/tidy.rs" {
            continue;
        }
        let code = code_of(&read(&file));
        for (marker, fixture) in FIXTURE_MARKERS {
            if code.contains(marker) {
                wrong.push(format!("{file}: {marker} ({fixture})"));
            }
        }
    }
    for (marker, _) in FIXTURE_MARKERS {
        let homes: Vec<String> = rust_files("tests/support")
            .into_iter()
            .filter(|f| code_of(&read(f)).contains(marker))
            .collect();
        assert!(
            homes.len() <= 1,
            "{marker} in more than one support file: {homes:?}"
        );
    }
    assert_none("fixtures outside tests/support", wrong);
}

/// Whether `name` (a `cargo test` path as ARCHITECTURE.md writes it) is a test function or a
/// test module of the tree.
fn names_a_test(name: &str) -> bool {
    let segments: Vec<&str> = name.split("::").collect();
    let (base, rest) = match segments.split_first() {
        Some((&"e2e", rest)) => ("tests/e2e", rest.to_vec()),
        Some((&"tidy", rest)) => ("tests/e2e/tidy", rest.to_vec()),
        _ => ("src", segments.clone()),
    };
    let module_file = |parts: &[&str]| {
        let path = format!("{base}/{}", parts.join("/"));
        root().join(format!("{path}.rs")).exists() || root().join(format!("{path}/mod.rs")).exists()
    };
    if rest.is_empty() {
        return root().join(format!("{base}.rs")).exists();
    }
    if module_file(&rest) {
        return true;
    }
    // A function: its module's file (a `tests` segment may be the inline test module)
    // defines it.
    let Some((function, module)) = rest.split_last() else {
        return false;
    };
    let module: Vec<&str> = module.iter().copied().filter(|s| *s != "tests").collect();
    let mut candidates = Vec::new();
    if module.is_empty() {
        candidates.push(format!("{base}.rs"));
    } else {
        let path = format!("{base}/{}", module.join("/"));
        candidates.push(format!("{path}.rs"));
        candidates.push(format!("{path}/mod.rs"));
        candidates.push(format!("{path}/tests.rs"));
    }
    candidates.iter().any(|file| {
        std::fs::read_to_string(root().join(file))
            .is_ok_and(|text| text.contains(&format!("fn {function}(")))
    })
}

#[test]
fn each_invariant_names_a_test_that_exists() {
    let text = read("ARCHITECTURE.md");
    let invariants = &text[text
        .find("## Invariants")
        .expect("ARCHITECTURE.md has invariants")..];
    let mut bullets = Vec::new();
    for line in invariants.lines() {
        if line.starts_with("- ") {
            bullets.push(line.to_string());
        } else if line.starts_with("  ")
            && let Some(last) = bullets.last_mut()
        {
            last.push(' ');
            last.push_str(line.trim());
        }
    }
    assert!(
        bullets.len() >= 20,
        "the invariants are bullets: {}",
        bullets.len()
    );
    let mut wrong = Vec::new();
    for bullet in &bullets {
        let Some((_, tests)) = bullet.rsplit_once(" — ") else {
            wrong.push(format!("names no test: {bullet}"));
            continue;
        };
        let names: Vec<&str> = tests.split('`').skip(1).step_by(2).collect();
        if names.is_empty() {
            wrong.push(format!("names no test: {bullet}"));
        }
        for name in names {
            if !names_a_test(name) {
                wrong.push(format!("no such test: {name}"));
            }
        }
    }
    assert_none("ARCHITECTURE.md's invariants and the tests differ", wrong);
}

#[test]
fn the_checks_see_what_they_look_for() {
    let code = "use crate::{events::{Command, EventLog}, model};\nuse super::x;\nfn f() { crate::store::open(); my_crate::y(); }\n";
    let named: Vec<String> = crate_modules_named(code).into_iter().collect();
    assert_eq!(named, ["events", "model", "store"]);
    assert_eq!(module_of("src/http/objects.rs"), "http");
    assert_eq!(module_of("src/metrics.rs"), "metrics");
    assert!(shipped_code_of("a\n#[cfg(test)]\nmod tests { use crate::http; }").trim() == "a");
    assert!(code_of("let u = \"http://x\"; // crate::http").contains("http://x"));
    assert!(!code_of("x(); // crate::http").contains("crate::http"));
    assert!(names_a_test("tidy::the_codemap_matches_the_tree"));
    assert!(names_a_test("e2e::api::watch"));
    assert!(!names_a_test("e2e::api::no_such_test_anywhere"));
}

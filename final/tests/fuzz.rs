//! Property tests of the parsers that take what a user, an engine or the
//! kernel hands the runtime: docker's flag values, the steps' flag values,
//! config.json, mountinfo and ELF headers. For any input: no panic, and a
//! refusal names what it refused. proptest generates the inputs, biased
//! towards the characters each format gives meaning to, and shrinks a
//! failing one to a short example. No root needed.

use std::path::Path;

use proptest::prelude::*;
use serde_json::{Value, json};

/// Strings of the characters flag values are made of, and then some.
fn flagish() -> impl Strategy<Value = String> {
    "[-a-z0-9:=,/._ \\x00\\u{e9}\\u{1F600}]{0,40}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    // ANCHOR: flags
    #[test]
    fn docker_flag_values_never_panic_and_name_themselves(text in flagish()) {
        use isolab::flag_values as f;
        if let Err(e) = f::volume(&text) {
            prop_assert!(e.to_string().contains("--volume"), "{e}");
        }
        if let Err(e) = f::mount(&text) {
            prop_assert!(e.to_string().contains("--mount"), "{e}");
        }
        if let Err(e) = f::tmpfs(&text) {
            prop_assert!(e.to_string().contains("--tmpfs"), "{e}");
        }
        match f::ulimit(&text) {
            Ok((name, soft, hard)) => {
                prop_assert!(name.starts_with("RLIMIT_"));
                prop_assert!(soft <= hard);
            }
            Err(e) => prop_assert!(e.to_string().contains("--ulimit"), "{e}"),
        }
        let mut spec = json!({"linux": {}});
        if let Err(e) = f::device(&mut spec, &text) {
            prop_assert!(e.to_string().contains("--device"), "{e}");
        }
    }
    // ANCHOR_END: flags

    #[test]
    fn a_published_port_reads_back_as_itself(text in flagish()) {
        match isolab::publish::Publish::parse(&text) {
            Ok(p) => {
                let again = isolab::publish::Publish::parse(&p.to_string()).unwrap();
                prop_assert_eq!(again, p);
            }
            Err(e) => {
                let want = format!("--publish {text}");
                prop_assert!(e.to_string().starts_with(&want), "{}", e);
            }
        }
    }

    #[test]
    fn the_steps_flag_values_never_panic(text in flagish()) {
        let _ = isolab::limits::parse_memory(&text);
        let _ = isolab::limits::parse_cpus(&text);
        let _ = isolab::limits::parse_pids(&text);
        let _ = isolab::limits::parse_shares(&text);
        let _ = isolab::userns::parse_map(&text);
        let _ = isolab::user::parse(&text);
        let _ = isolab::capabilities::parse_flag(&text);
        let _ = isolab::security_opt::parse(&text);
        let _ = isolab::environ::parse_entry(&text);
        let _ = isolab::uts::validate_hostname(&text);
    }

    #[test]
    fn any_mountinfo_parses(lines in prop::collection::vec("[0-9]{1,3} [0-9]{1,3} [0-9]{1,3}:[0-9]{1,3} [/a-z]{0,12} [/a-z]{0,20} [a-z,=]{0,20}( [a-z:]{0,10})* - [a-z0-9]{0,8} [a-z]{0,8} [a-z,=]{0,30}", 0..20)) {
        let _ = isolab::cgroup::Layout::parse(&lines.join("\n"));
    }

    #[test]
    fn any_bytes_are_no_elf_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = isolab::elf::parse(&bytes);
        let _ = isolab::elf::loaded_extent(&bytes);
    }
}

/// A JSON value of any shape, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        "[-a-zA-Z0-9_/.:]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every JSON path of `v` (`process.args.0`), for picking one to replace.
fn paths(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => m.iter().for_each(|(k, x)| {
            let p = if at.is_empty() {
                k.clone()
            } else {
                format!("{at}.{k}")
            };
            out.push(p.clone());
            paths(x, p, out);
        }),
        Value::Array(a) => a.iter().enumerate().for_each(|(i, x)| {
            let p = format!("{at}.{i}");
            out.push(p.clone());
            paths(x, p, out);
        }),
        _ => {}
    }
}

fn replace(v: &mut Value, path: &str, with: Value) {
    let mut cur = v;
    for part in path.split('.') {
        cur = match cur {
            Value::Object(m) => m.get_mut(part).expect("a path of v"),
            Value::Array(a) => &mut a[part.parse::<usize>().expect("an index")],
            _ => unreachable!("paths only names containers' children"),
        };
    }
    *cur = with;
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    // ANCHOR: config
    /// `isolab spec`'s config with one field (any field, at any depth)
    /// replaced by any JSON: it loads, or the error names config.json and
    /// a JSON path.
    #[test]
    fn a_config_with_any_field_replaced_loads_or_says_where(
        pick in any::<prop::sample::Index>(),
        with in any_json(),
    ) {
        let mut spec = isolab::default_spec::default_spec(None);
        spec["root"]["path"] = json!("/");
        let mut all = Vec::new();
        paths(&spec, String::new(), &mut all);
        let path = pick.get(&all).clone();
        replace(&mut spec, &path, with);
        if let Err(e) = isolab::bundle::parse(Path::new("/nonexistent-bundle"), &spec) {
            let text = e.to_string();
            prop_assert!(text.contains("config.json"), "{path}: {text}");
        }
    }
    // ANCHOR_END: config
}

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::*;

/// The module's example: a filter parsed from the network, matched against a resource, and
/// printed in canonical form (operators in lower case).
#[test]
fn a_filter_parses_matches_and_prints_canonically() {
    struct Types;
    impl AttributeTypes for Types {
        fn case_exact(&self, path: &AttrPath) -> bool {
            path.attr == "id"
        }
        fn kind(&self, _: &AttrPath) -> AttrKind {
            AttrKind::String
        }
    }

    let filter = parse_filter(
        r#"userName SW "bj" and emails[type eq "work" and value co "@example.com"]"#,
        &Limits::default(),
    )
    .unwrap();
    let user = json!({
        "userName": "BJensen",
        "emails": [{"type": "work", "value": "bjensen@example.com"}],
    });
    assert!(filter.matches(&user, &Types));
    assert_eq!(
        filter.to_string(),
        r#"userName sw "bj" and emails[type eq "work" and value co "@example.com"]"#
    );
}

const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// The schema facts of RFC 7643 §4.1 and §8.7.1 that the tests lean on.
struct UserTypes;

impl AttributeTypes for UserTypes {
    fn case_exact(&self, path: &AttrPath) -> bool {
        let name = path.to_string().to_ascii_lowercase();
        ["id", "externalid", "x509certificates.value", "meta.version"]
            .iter()
            .any(|exact| name.ends_with(exact))
    }

    fn kind(&self, path: &AttrPath) -> AttrKind {
        let attr = path.attr.to_ascii_lowercase();
        let sub = path.sub_attr.as_deref().map(str::to_ascii_lowercase);
        match (attr.as_str(), sub.as_deref()) {
            ("active", None) | ("emails", Some("primary")) => AttrKind::Boolean,
            ("logincount", None) => AttrKind::Integer,
            ("score", None) => AttrKind::Decimal,
            ("meta", Some("created" | "lastmodified")) => AttrKind::DateTime,
            ("x509certificates", Some("value")) => AttrKind::Binary,
            ("members", Some("$ref")) => AttrKind::Reference,
            ("emails" | "name" | "meta" | "members" | "manager" | "x509certificates", None) => {
                AttrKind::Complex
            }
            _ => AttrKind::String,
        }
    }
}

fn user() -> Value {
    json!({
        "schemas": [CORE_USER, ENTERPRISE, "urn:scim:tonkean"],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "bjensen",
        "userName": "bjensen@example.com",
        "name": {"familyName": "Jensen", "givenName": "Barbara"},
        "displayName": "Ärger Jensen",
        "title": "",
        "nickName": null,
        "phoneNumbers": [],
        "active": true,
        "loginCount": 42,
        "score": 2.5,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "x509Certificates": [{"value": "MIIDQzCC"}],
        "meta": {
            "resourceType": "User",
            "created": "2010-01-23T04:56:22Z",
            "lastModified": "2011-05-13T04:42:34+02:00"
        },
        ENTERPRISE: {
            "employeeNumber": "701984",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}
        },
        "urn:scim:tonkean": {"tonkeanRoles": ["PROCESS_CONTRIBUTOR", "SYSTEM_USER"]}
    })
}

fn group() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "e9e30dba",
        "displayName": "Tour Guides",
        "members": [
            {"value": "2819c223", "$ref": "https://example.com/v2/Users/2819c223", "display": "Babs"},
            {"value": "902c246b", "display": "Mandy"}
        ]
    })
}

fn parse(input: &str) -> Filter {
    parse_filter(input, &Limits::default()).unwrap_or_else(|e| panic!("{input}: {e}"))
}

fn parse_err(input: &str) -> FilterError {
    match parse_filter(input, &Limits::default()) {
        Ok(filter) => panic!("{input} parsed as {filter:?}"),
        Err(e) => e,
    }
}

fn path_err(input: &str) -> FilterError {
    match parse_patch_path(input, &Limits::default()) {
        Ok(path) => panic!("{input} parsed as {path:?}"),
        Err(e) => e,
    }
}

fn matches(input: &str) -> bool {
    parse(input).matches(&user(), &UserTypes)
}

fn attr(name: &str) -> AttrPath {
    AttrPath::new(name)
}

fn string(s: &str) -> CompValue {
    CompValue::String(s.to_owned())
}

fn cmp(path: &str, op: CompareOp, value: CompValue) -> Filter {
    Filter::Compare(attr(path), op, value)
}

fn pr(path: &str) -> Filter {
    Filter::Present(attr(path))
}

fn and(a: Filter, b: Filter) -> Filter {
    Filter::And(Box::new(a), Box::new(b))
}

fn or(a: Filter, b: Filter) -> Filter {
    Filter::Or(Box::new(a), Box::new(b))
}

fn not(a: Filter) -> Filter {
    Filter::Not(Box::new(a))
}

// ---------------------------------------------------------------------------------------------
// Parsing

#[test]
fn parses_a_comparison() {
    assert_eq!(
        parse(r#"userName eq "bjensen""#),
        cmp("userName", CompareOp::Eq, string("bjensen"))
    );
}

#[test]
fn parses_every_operator_in_any_case() {
    for (word, op) in [
        ("eq", CompareOp::Eq),
        ("NE", CompareOp::Ne),
        ("Co", CompareOp::Co),
        ("sW", CompareOp::Sw),
        ("ew", CompareOp::Ew),
        ("GT", CompareOp::Gt),
        ("ge", CompareOp::Ge),
        ("Lt", CompareOp::Lt),
        ("le", CompareOp::Le),
    ] {
        assert_eq!(
            parse(&format!("title {word} \"x\"")),
            cmp("title", op, string("x"))
        );
    }
    assert_eq!(parse("title PR"), pr("title"));
    assert_eq!(
        parse("a pr AND b pr Or NOT (c pr)"),
        or(and(pr("a"), pr("b")), not(pr("c")))
    );
}

#[test]
fn parses_literals() {
    let value = |text: &str| match parse(&format!("a eq {text}")) {
        Filter::Compare(_, _, value) => value,
        other => panic!("{other:?}"),
    };
    assert_eq!(value("true"), CompValue::Bool(true));
    assert_eq!(value("TRUE"), CompValue::Bool(true));
    assert_eq!(value("False"), CompValue::Bool(false));
    assert_eq!(value("null"), CompValue::Null);
    assert_eq!(value("NULL"), CompValue::Null);
    assert_eq!(value("0"), CompValue::Number(0.into()));
    assert_eq!(value("-17"), CompValue::Number((-17).into()));
    assert_eq!(
        value("18446744073709551615"),
        CompValue::Number(u64::MAX.into())
    );
    assert_eq!(
        value("2.5"),
        CompValue::Number(serde_json::Number::from_f64(2.5).unwrap())
    );
    assert_eq!(
        value("1E3"),
        CompValue::Number(serde_json::Number::from_f64(1000.0).unwrap())
    );
    assert_eq!(
        value("-1.5e-1"),
        CompValue::Number(serde_json::Number::from_f64(-0.15).unwrap())
    );
    assert_eq!(value(r#""""#), string(""));
    assert_eq!(
        value(r#""a\"b\\c\/d\n\t\u00e9\ud83d\ude00""#),
        string("a\"b\\c/d\n\té😀")
    );
    assert_eq!(value(r#""ünïcødé ok""#), string("ünïcødé ok"));
}

#[test]
fn not_binds_tighter_than_and_tighter_than_or() {
    assert_eq!(
        parse("a pr or b pr and c pr"),
        or(pr("a"), and(pr("b"), pr("c")))
    );
    assert_eq!(
        parse("a pr and b pr or c pr"),
        or(and(pr("a"), pr("b")), pr("c"))
    );
    assert_eq!(parse("not (a pr) and b pr"), and(not(pr("a")), pr("b")));
    assert_eq!(
        parse("a pr and (b pr or c pr)"),
        and(pr("a"), or(pr("b"), pr("c")))
    );
    assert_eq!(parse("((a pr))"), pr("a"));
    assert_eq!(parse("not(a pr)"), not(pr("a")));
}

#[test]
fn chains_are_balanced() {
    // Four terms make a tree of height 3, not 4.
    assert_eq!(
        parse("a pr or b pr or c pr or d pr"),
        or(or(pr("a"), pr("b")), or(pr("c"), pr("d")))
    );
    assert_eq!(
        parse("a pr and b pr and c pr"),
        and(pr("a"), and(pr("b"), pr("c")))
    );
}

#[test]
fn accepts_loose_whitespace() {
    assert_eq!(
        parse("  userName\teq\n\"x\"   and  ( title  pr )  "),
        and(cmp("userName", CompareOp::Eq, string("x")), pr("title"))
    );
}

#[test]
fn parses_urn_qualified_paths() {
    let path = |input: &str| match parse(input) {
        Filter::Present(path) => path,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        path(&format!("{CORE_USER}:userName pr")),
        attr("userName").with_urn(CORE_USER)
    );
    assert_eq!(
        path(&format!("{CORE_USER}:name.familyName pr")),
        attr("name").with_urn(CORE_USER).with_sub_attr("familyName")
    );
    assert_eq!(
        path(&format!("{ENTERPRISE}:manager.value pr")),
        attr("manager").with_urn(ENTERPRISE).with_sub_attr("value")
    );
    assert_eq!(
        path("urn:scim:tonkean:tonkeanRoles pr"),
        attr("tonkeanRoles").with_urn("urn:scim:tonkean")
    );
    assert_eq!(
        path("meta.lastModified pr"),
        attr("meta").with_sub_attr("lastModified")
    );
    assert_eq!(
        path("members.$ref pr"),
        attr("members").with_sub_attr("$ref")
    );
    assert_eq!(path("x-custom_attr2 pr"), attr("x-custom_attr2"));
}

#[test]
fn parses_value_paths() {
    assert_eq!(
        parse(r#"emails[type eq "work" and value co "@example.com"]"#),
        Filter::ValuePath(
            attr("emails"),
            Box::new(and(
                cmp("type", CompareOp::Eq, string("work")),
                cmp("value", CompareOp::Co, string("@example.com"))
            ))
        )
    );
    assert_eq!(
        parse(r#"userType eq "Employee" and emails[not (type eq "home")] or ims pr"#),
        or(
            and(
                cmp("userType", CompareOp::Eq, string("Employee")),
                Filter::ValuePath(
                    attr("emails"),
                    Box::new(not(cmp("type", CompareOp::Eq, string("home"))))
                )
            ),
            pr("ims")
        )
    );
    assert_eq!(
        parse(r#"urn:scim:tonkean:tonkeanRoles[value eq "SYSTEM_USER"]"#),
        Filter::ValuePath(
            attr("tonkeanRoles").with_urn("urn:scim:tonkean"),
            Box::new(cmp("value", CompareOp::Eq, string("SYSTEM_USER")))
        )
    );
}

#[test]
fn keywords_are_also_attribute_names() {
    assert_eq!(parse("not pr"), pr("not"));
    assert_eq!(
        parse("not eq 1"),
        cmp("not", CompareOp::Eq, CompValue::Number(1.into()))
    );
    assert_eq!(parse("and pr and or pr"), and(pr("and"), pr("or")));
    assert_eq!(parse("pr pr"), pr("pr"));
}

// ---------------------------------------------------------------------------------------------
// Errors

#[track_caller]
fn assert_error(error: &FilterError, offset: Option<usize>, fragment: &str) {
    assert_eq!(error.offset(), offset, "{error}");
    assert!(
        error.to_string().contains(fragment),
        "{error:?} lacks {fragment:?}"
    );
}

#[test]
fn rejects_an_empty_filter() {
    for input in ["", "   ", "\t\n"] {
        let error = parse_err(input);
        assert_eq!(error.kind(), &FilterErrorKind::Empty);
        assert_eq!(error.scim_type(), "invalidFilter");
    }
}

#[test]
fn rejects_a_filter_longer_than_the_limit_in_characters() {
    let limits = Limits {
        max_len: 12,
        ..Limits::default()
    };
    let error = parse_filter("userName pr or", &limits).unwrap_err();
    assert_eq!(error.kind(), &FilterErrorKind::TooLong { len: 14, max: 12 });
    assert_eq!(error.scim_type(), "invalidFilter");
    // Twelve characters, but more bytes.
    assert!(
        parse_filter("éééé eq \"é\"", &limits)
            .is_err_and(|e| !matches!(e.kind(), FilterErrorKind::TooLong { .. }))
    );
    assert_eq!(
        parse_filter("a eq \"éééé\"", &limits),
        Ok(cmp("a", CompareOp::Eq, string("éééé")))
    );
}

#[test]
fn rejects_groups_nested_too_deep() {
    let limits = Limits {
        max_depth: 3,
        ..Limits::default()
    };
    assert!(parse_filter("(((a pr)))", &limits).is_ok());
    let error = parse_filter("((((a pr))))", &limits).unwrap_err();
    assert_eq!(error.kind(), &FilterErrorKind::TooDeep { max: 3 });
    assert_eq!(error.offset(), Some(3));
    assert_eq!(error.scim_type(), "invalidFilter");
    assert!(parse_filter("not (not (a pr))", &limits).is_ok());
    assert!(
        parse_filter("not (not (not (a pr)))", &limits)
            .is_err_and(|e| e.kind() == &FilterErrorKind::TooDeep { max: 3 })
    );
    assert!(
        parse_filter("((emails[(type pr)]))", &limits)
            .is_err_and(|e| e.kind() == &FilterErrorKind::TooDeep { max: 3 })
    );
}

#[test]
fn rejects_a_tree_grown_too_high() {
    let limits = Limits {
        max_depth: 3,
        ..Limits::default()
    };
    // Four terms make height 3, five make 4.
    assert!(parse_filter("a pr or b pr or c pr or d pr", &limits).is_ok());
    let error = parse_filter("a pr or b pr or c pr or d pr or e pr", &limits).unwrap_err();
    assert_eq!(error.kind(), &FilterErrorKind::TooDeep { max: 3 });
    assert_eq!(error.offset(), Some(0));
    let error =
        parse_filter("x pr and (a pr or b pr or c pr or d pr or e pr)", &limits).unwrap_err();
    assert_eq!(error.offset(), Some(10));
}

#[test]
fn rejects_bad_string_literals() {
    let error = parse_err(r#"userName eq "bjensen"#);
    assert_eq!(error.kind(), &FilterErrorKind::UnterminatedString);
    assert_error(&error, Some(12), "never closed");
    assert_eq!(
        parse_err(r#"userName eq "ends in \""#).kind(),
        &FilterErrorKind::UnterminatedString
    );
    let error = parse_err(r#"userName eq "bad \q escape""#);
    assert!(
        matches!(error.kind(), FilterErrorKind::InvalidString { .. }),
        "{error:?}"
    );
    assert_error(&error, Some(12), "invalid string literal");
    assert!(!error.to_string().contains("line 1"), "{error}");
    assert!(matches!(
        parse_err("a eq \"raw\ttab\"").kind(),
        FilterErrorKind::InvalidString { .. }
    ));
    assert!(matches!(
        parse_err(r#"a eq "\ud800""#).kind(),
        FilterErrorKind::InvalidString { .. }
    ));
}

#[test]
fn rejects_unknown_or_missing_operators() {
    let error = parse_err(r#"userName equals "x""#);
    assert_eq!(
        error.kind(),
        &FilterErrorKind::UnknownOperator {
            found: "`equals`".into()
        }
    );
    assert_error(&error, Some(9), "expected an operator");
    assert_error(
        &parse_err("userName"),
        Some(8),
        "found the end of the input",
    );
    assert_error(
        &parse_err(r#"userName "x""#),
        Some(9),
        "found the string \"x\"",
    );
    assert_error(&parse_err("userName (a pr)"), Some(9), "found '('");
}

#[test]
fn rejects_missing_or_malformed_values() {
    for (input, offset, found) in [
        ("userName eq", 11, "the end of the input"),
        ("userName eq bjensen", 12, "`bjensen`"),
        ("a eq 01", 5, "`01`"),
        ("a eq 1.", 5, "`1.`"),
        ("a eq .5", 5, "`.5`"),
        ("a eq +1", 5, "`+1`"),
        ("a eq 1e", 5, "`1e`"),
        ("a eq 1e400", 5, "`1e400`"),
        ("a eq tru", 5, "`tru`"),
        ("a eq (b pr)", 5, "'('"),
    ] {
        let error = parse_err(input);
        assert!(
            matches!(error.kind(), FilterErrorKind::ExpectedValue { .. }),
            "{input}: {error:?}"
        );
        assert_error(&error, Some(offset), found);
    }
}

#[test]
fn rejects_trailing_input() {
    assert_error(
        &parse_err(r#"userName eq "x" foo"#),
        Some(16),
        "found `foo`",
    );
    assert_error(&parse_err(r#"userName eq "x")"#), Some(15), "found ')'");
    assert_error(
        &parse_err(r#"userName eq "x" "y""#),
        Some(16),
        "or the end of the filter",
    );
    assert_error(&parse_err("a pr b pr"), Some(5), "`and`, `or`");
}

#[test]
fn rejects_unclosed_and_mismatched_groups() {
    let error = parse_err("(userName pr");
    assert_eq!(error.kind(), &FilterErrorKind::Unclosed { open: '(' });
    assert_error(&error, Some(0), "'(' is never closed by ')'");
    let error = parse_err(r#"title pr and emails[type eq "work""#);
    assert_eq!(error.kind(), &FilterErrorKind::Unclosed { open: '[' });
    assert_error(&error, Some(19), "'[' is never closed by ']'");
    assert_error(&parse_err("not (a pr"), Some(4), "never closed");
    assert_error(&parse_err("(a pr]"), Some(5), "found ']'");
    assert_error(&parse_err("emails[type pr)"), Some(14), "found ')'");
    assert_error(&parse_err("emails["), Some(7), "expected an attribute path");
    assert_error(
        &parse_err("()"),
        Some(1),
        "expected an attribute path, found ')'",
    );
    assert_error(&parse_err("emails[]"), Some(7), "found ']'");
    assert_error(&parse_err(")"), Some(0), "expected an attribute path");
}

#[test]
fn rejects_dangling_logical_operators() {
    assert_error(
        &parse_err("userName pr and"),
        Some(15),
        "expected an attribute path, found the end",
    );
    assert_error(&parse_err("userName pr or or"), Some(17), "found the end");
    assert_error(&parse_err("and"), Some(3), "expected an operator");
}

#[test]
fn rejects_not_without_parentheses() {
    let error = parse_err(r#"not userName eq "x""#);
    assert_eq!(error.kind(), &FilterErrorKind::NotWithoutParens);
    assert_error(&error, Some(0), "`not` must be followed by");
    assert_eq!(
        parse_err("a pr and not").kind(),
        &FilterErrorKind::NotWithoutParens
    );
}

#[test]
fn rejects_nested_value_paths() {
    let error = parse_err(r#"emails[type[value eq "x"]]"#);
    assert_eq!(error.kind(), &FilterErrorKind::NestedValuePath);
    assert_eq!(error.offset(), Some(11));
}

#[test]
fn rejects_qualified_paths_inside_value_paths() {
    let error = parse_err(r#"emails[emails.type eq "work"]"#);
    assert!(matches!(
        error.kind(),
        FilterErrorKind::InvalidAttrPath { .. }
    ));
    assert_error(&error, Some(7), "without '.'");
    assert_error(
        &parse_err(&format!("emails[{CORE_USER}:type eq \"work\"]")),
        Some(7),
        "without a schema URN",
    );
}

#[test]
fn rejects_value_paths_on_sub_attributes_or_with_a_sub_attribute() {
    assert_error(
        &parse_err(r#"name.givenName[value eq "x"]"#),
        Some(14),
        "cannot have a sub-attribute",
    );
    assert_error(
        &parse_err(r#"emails[type eq "work"].value eq "x""#),
        Some(22),
        "found `.value`",
    );
}

#[test]
fn rejects_malformed_attribute_paths() {
    for (input, reason) in [
        ("1abc pr", "names start with a letter"),
        ("a.b.c pr", "at most one sub-attribute"),
        (":a pr", "URN before ':' is empty"),
        ("urn:x: pr", "no attribute name follows"),
        ("a. pr", "names start with a letter"),
        ("a_b$ pr", "names start with a letter"),
        ("-a pr", "names start with a letter"),
        ("é pr", "names start with a letter"),
    ] {
        let error = parse_err(input);
        assert!(
            matches!(error.kind(), FilterErrorKind::InvalidAttrPath { .. }),
            "{input}: {error:?}"
        );
        assert_error(&error, Some(0), reason);
        assert_eq!(error.scim_type(), "invalidFilter");
    }
    assert_error(
        &parse_err(r#""userName" eq "x""#),
        Some(0),
        "expected an attribute path, found the string",
    );
}

#[test]
fn error_offsets_count_characters_not_bytes() {
    let error = parse_err(r#"displayName eq "Ärger" junk"#);
    assert_error(&error, Some(23), "found `junk`");
}

// ---------------------------------------------------------------------------------------------
// PATCH paths and bare attribute paths

#[test]
fn parses_patch_paths() {
    let parse_path = |input: &str| parse_patch_path(input, &Limits::default()).unwrap();
    assert_eq!(parse_path("members"), PatchPath::Attr(attr("members")));
    assert_eq!(
        parse_path("name.familyName"),
        PatchPath::Attr(attr("name").with_sub_attr("familyName"))
    );
    assert_eq!(
        parse_path("urn:scim:tonkean:tonkeanRoles"),
        PatchPath::Attr(attr("tonkeanRoles").with_urn("urn:scim:tonkean"))
    );
    assert_eq!(
        parse_path(&format!("{ENTERPRISE}:manager")),
        PatchPath::Attr(attr("manager").with_urn(ENTERPRISE))
    );
    assert_eq!(
        parse_path(r#"members[value eq "2819c223"]"#),
        PatchPath::ValuePath {
            attr: attr("members"),
            filter: cmp("value", CompareOp::Eq, string("2819c223")),
            sub_attr: None,
        }
    );
    assert_eq!(
        parse_path(r#"urn:scim:tonkean:tonkeanRoles[value eq "SYSTEM_USER"]"#),
        PatchPath::ValuePath {
            attr: attr("tonkeanRoles").with_urn("urn:scim:tonkean"),
            filter: cmp("value", CompareOp::Eq, string("SYSTEM_USER")),
            sub_attr: None,
        }
    );
    assert_eq!(
        parse_path(r#"emails[type eq "work" and primary eq true].value"#),
        PatchPath::ValuePath {
            attr: attr("emails"),
            filter: and(
                cmp("type", CompareOp::Eq, string("work")),
                cmp("primary", CompareOp::Eq, CompValue::Bool(true))
            ),
            sub_attr: Some("value".into()),
        }
    );
}

#[test]
fn patch_path_errors_are_invalid_path_outside_brackets_and_invalid_filter_inside() {
    for (input, offset, fragment) in [
        ("", None, "empty"),
        ("emails.value.x", Some(0), "at most one sub-attribute"),
        (r#"emails[type eq "work"]value"#, Some(22), "found `value`"),
        (
            r#"emails[type eq "work"].1x"#,
            Some(22),
            "names start with a letter",
        ),
        (
            r#"emails[type eq "work"].value.x"#,
            Some(22),
            "names start with a letter",
        ),
        (
            r#"emails[type eq "work"].value junk"#,
            Some(29),
            "found `junk`",
        ),
        ("userName eq", Some(9), "'[' or the end of the path"),
        ("\"userName\"", Some(0), "expected an attribute path"),
        (
            "name.givenName[value pr]",
            Some(14),
            "cannot have a sub-attribute",
        ),
    ] {
        let error = path_err(input);
        assert_eq!(error.scim_type(), "invalidPath", "{input}: {error}");
        assert_error(&error, offset, fragment);
    }
    for input in [
        "emails[type eq]",
        "emails[type]",
        "emails[type eq \"x\" junk]",
        "emails[emails.type eq \"x\"]",
        "emails[type[value pr]]",
        "emails[type eq \"work\"",
    ] {
        assert_eq!(path_err(input).scim_type(), "invalidFilter", "{input}");
    }
    let limits = Limits {
        max_len: 3,
        ..Limits::default()
    };
    assert_eq!(
        parse_patch_path("members", &limits)
            .unwrap_err()
            .scim_type(),
        "invalidPath"
    );
}

#[test]
fn parses_bare_attribute_paths() {
    let limits = Limits::default();
    assert_eq!(
        parse_attr_path("name.familyName", &limits),
        Ok(attr("name").with_sub_attr("familyName"))
    );
    assert_eq!(
        parse_attr_path(&format!("{ENTERPRISE}:employeeNumber"), &limits),
        Ok(attr("employeeNumber").with_urn(ENTERPRISE))
    );
    let error = parse_attr_path("userName pr", &limits).unwrap_err();
    assert_eq!(error.scim_type(), "invalidPath");
    assert_error(&error, Some(9), "expected the end of the attribute path");
    assert!(parse_attr_path("emails[type pr]", &limits).is_err());
}

// ---------------------------------------------------------------------------------------------
// Evaluation

#[test]
fn strings_compare_case_insensitively_unless_case_exact() {
    assert!(matches(r#"userName eq "BJensen@Example.COM""#));
    assert!(!matches(r#"userName eq "bjensen""#));
    assert!(matches(r#"id eq "2819c223-7f76-453a-919d-413861904646""#));
    assert!(!matches(r#"id eq "2819C223-7F76-453A-919D-413861904646""#));
    assert!(matches(r#"externalId sw "bjen""#));
    assert!(!matches(r#"externalId sw "BJEN""#));
    assert!(
        matches(r#"displayName eq "ärger jensen""#),
        "case folding beyond ASCII"
    );
    assert!(matches(r#"displayName co "ÄRGER""#));
}

#[test]
fn attribute_names_match_in_any_case() {
    assert!(matches(r#"USERNAME eq "bjensen@example.com""#));
    assert!(matches(r#"Name.FAMILYNAME eq "jensen""#));
    assert!(matches(r#"EMAILS[TYPE eq "work"]"#));
    assert!(matches(r#"urn:SCIM:Tonkean:TONKEANROLES eq "system_user""#));
}

#[test]
fn evaluates_substring_operators() {
    assert!(matches(r#"userName co "JENSEN@""#));
    assert!(matches(r#"userName sw "bj""#));
    assert!(matches(r#"userName ew ".com""#));
    assert!(!matches(r#"userName ew "bj""#));
    assert!(!matches(r#"userName sw "example""#));
    assert!(matches(r#"userName co """#));
    assert!(!matches(r#"userName co "bjensen@example.com.au""#));
    assert!(!matches("loginCount co 4"), "co is for strings");
}

#[test]
fn orders_strings_lexicographically() {
    assert!(matches(r#"userName gt "a""#));
    assert!(matches(r#"userName gt "A""#));
    assert!(matches(r#"userName lt "C""#));
    assert!(matches(r#"userName ge "BJENSEN@EXAMPLE.COM""#));
    assert!(matches(r#"userName le "bjensen@example.com""#));
    assert!(!matches(r#"userName lt "bjensen@example.com""#));
    assert!(matches(r#"id lt "3""#));
    assert!(!matches(r#"id gt "3""#));
}

#[test]
fn orders_numbers_numerically() {
    assert!(matches("loginCount eq 42"));
    assert!(matches("loginCount eq 42.0"));
    assert!(matches("loginCount gt 41"));
    assert!(matches("loginCount ge 42"));
    assert!(!matches("loginCount lt 42"));
    assert!(matches("loginCount le 4.2e1"));
    assert!(matches("loginCount gt -1"));
    assert!(matches("loginCount lt 18446744073709551615"));
    assert!(matches("score gt 2.25"));
    assert!(matches("score lt 3"));
    assert!(
        !matches(r#"loginCount eq "42""#),
        "a string never equals a number"
    );
    assert!(matches(r#"loginCount ne "42""#));
}

#[test]
fn orders_date_times_chronologically() {
    // 04:42:34+02:00 is 02:42:34Z: before 03:00Z though it sorts after it as text.
    assert!(matches(r#"meta.lastModified lt "2011-05-13T03:00:00Z""#));
    assert!(!matches(r#"meta.lastModified gt "2011-05-13T03:00:00Z""#));
    assert!(matches(
        r#"meta.lastModified eq "2011-05-13T02:42:34.000Z""#
    ));
    assert!(matches(r#"meta.lastModified ge "2011-05-13T02:42:34Z""#));
    assert!(matches(
        r#"meta.created gt "2010-01-23T04:56:21.999999999Z""#
    ));
    assert!(matches(
        r#"meta.created lt "2010-01-23t04:56:22.000000001z""#
    ));
    assert!(matches(r#"meta.created gt "2009-12-31T23:59:59-05:00""#));
    assert!(matches(r#"meta.created sw "2010-01""#));
    // A value that is no date-time compares as text.
    assert!(matches(r#"meta.created gt "2010""#));
}

#[test]
fn parses_date_times() {
    assert_eq!(eval::parse_date_time("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(
        eval::parse_date_time("1970-01-01T00:00:01.5Z"),
        Some(1_500_000_000)
    );
    assert_eq!(eval::parse_date_time("1970-01-01T01:00:00+01:00"), Some(0));
    assert_eq!(eval::parse_date_time("1969-12-31T23:00:00-01:00"), Some(0));
    assert_eq!(eval::parse_date_time("1970-01-01T00:00:00"), Some(0));
    assert_eq!(
        eval::parse_date_time("2000-03-01T00:00:00Z"),
        Some(951_868_800 * 1_000_000_000)
    );
    assert_eq!(
        eval::parse_date_time("2024-02-29T00:00:00Z"),
        Some(1_709_164_800 * 1_000_000_000)
    );
    // ISO 8601's offset without a colon is read too.
    assert_eq!(
        eval::parse_date_time("2024-01-01T00:00:00+0100"),
        eval::parse_date_time("2024-01-01T00:00:00+01:00")
    );
    for bad in [
        "",
        "2023-02-29T00:00:00Z",
        "2024-13-01T00:00:00Z",
        "2024-01-01T24:00:00Z",
        "2024-01-01T00:00:00.Z",
        "2024-01-01T00:00:00Zjunk",
        "2024-1-01T00:00:00Z",
        "２０24-01-01T00:00:00Z",
    ] {
        assert_eq!(eval::parse_date_time(bad), None, "{bad}");
    }
}

#[test]
fn booleans_compare_only_for_equality() {
    assert!(matches("active eq true"));
    assert!(matches("active eq TRUE"));
    assert!(!matches("active eq false"));
    assert!(matches("active ne false"));
    assert!(!matches(r#"active eq "true""#));
    assert!(!matches("active gt false"));
    assert!(!matches("active co true"));
}

#[test]
fn validate_refuses_ordering_booleans_and_binaries() {
    let error = parse("active gt false").validate(&UserTypes).unwrap_err();
    assert_eq!(error.scim_type(), "invalidFilter");
    assert_eq!(error.offset(), None);
    assert_eq!(
        error.to_string(),
        "`gt` cannot compare `active`, which is a boolean"
    );
    let error = parse(r#"title pr and x509Certificates[value le "M"]"#)
        .validate(&UserTypes)
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "`le` cannot compare `x509Certificates.value`, which is a binary"
    );
    assert!(
        parse(r#"not (x509Certificates.value lt "M")"#)
            .validate(&UserTypes)
            .is_err()
    );
    assert!(
        parse(r#"userName gt "a" or active eq true or emails[primary eq true]"#)
            .validate(&UserTypes)
            .is_ok()
    );
    assert!(!matches(r#"x509Certificates.value gt "A""#));
    assert!(matches(r#"x509Certificates.value eq "MIIDQzCC""#));
}

#[test]
fn present_means_neither_null_nor_empty() {
    assert!(matches("userName pr"));
    assert!(matches("emails pr"));
    assert!(matches("name pr"));
    assert!(matches("active pr"));
    assert!(matches("emails.type pr"));
    assert!(!matches("title pr"), "empty string");
    assert!(!matches("nickName pr"), "null");
    assert!(!matches("phoneNumbers pr"), "empty array");
    assert!(!matches("ims pr"), "absent");
    assert!(!matches("name.middleName pr"));
    let resource = json!({"name": {}, "emails": [{}, {"value": null}], "roles": [null]});
    for input in ["name pr", "emails pr", "emails.value pr", "roles pr"] {
        assert!(!parse(input).matches(&resource, &UserTypes), "{input}");
    }
}

#[test]
fn null_compares_as_absence() {
    assert!(matches("nickName eq null"));
    assert!(matches("title eq null"));
    assert!(matches("ims eq null"));
    assert!(!matches("userName eq null"));
    assert!(matches("userName ne null"));
    assert!(!matches("nickName ne null"));
    assert!(!matches("userName gt null"));
    assert!(!matches("userName co null"));
}

#[test]
fn ne_negates_eq_per_value_and_matches_absence() {
    assert!(matches(r#"userName ne "x""#));
    assert!(!matches(r#"userName ne "BJENSEN@example.com""#));
    assert!(matches(r#"ims ne "x""#), "absent attributes equal nothing");
    assert!(matches(r#"nickName ne "x""#));
    // Any value may match: one role differs from SYSTEM_USER.
    assert!(matches(r#"urn:scim:tonkean:tonkeanRoles ne "SYSTEM_USER""#));
    assert!(!matches(
        r#"not (urn:scim:tonkean:tonkeanRoles eq "SYSTEM_USER")"#
    ));
}

#[test]
fn multi_valued_attributes_match_if_any_value_matches() {
    assert!(
        matches(r#"emails co "jensen.org""#),
        "compares each email's value"
    );
    assert!(matches(r#"emails eq "BABS@jensen.org""#));
    assert!(matches(r#"emails.value eq "babs@jensen.org""#));
    assert!(matches(r#"emails.type eq "home""#));
    assert!(!matches(r#"emails.type eq "other""#));
    assert!(matches(r#"urn:scim:tonkean:tonkeanRoles eq "SYSTEM_USER""#));
    assert!(matches(
        r#"urn:scim:tonkean:tonkeanRoles eq "process_contributor""#
    ));
    assert!(!matches(r#"urn:scim:tonkean:tonkeanRoles eq "ADMIN""#));
    assert!(matches("emails.primary eq true"));
}

#[test]
fn value_paths_match_within_one_value() {
    assert!(matches(
        r#"emails[type eq "work" and value co "example.com"]"#
    ));
    // Both conditions hold, but on different emails.
    assert!(!matches(
        r#"emails[type eq "home" and value co "example.com"]"#
    ));
    assert!(matches(
        r#"emails.type eq "home" and emails.value co "example.com""#
    ));
    assert!(matches(r#"emails[not (type eq "work")]"#));
    assert!(matches("emails[primary pr]"));
    assert!(!matches("emails[display pr]"));
    assert!(!matches("phoneNumbers[type pr]"));
    assert!(matches(
        r#"urn:scim:tonkean:tonkeanRoles[value eq "SYSTEM_USER"]"#
    ));
    assert!(!matches(
        r#"urn:scim:tonkean:tonkeanRoles[type eq "SYSTEM_USER"]"#
    ));
    assert!(
        matches(r#"name[givenName sw "barb"]"#),
        "a singular complex attribute is one value"
    );
    assert!(matches(&format!(
        r#"{ENTERPRISE}:manager[displayName eq "john smith"]"#
    )));
}

#[test]
fn resolves_urn_qualified_paths() {
    assert!(matches(&format!(
        r#"{CORE_USER}:userName eq "bjensen@example.com""#
    )));
    assert!(matches(&format!(
        r#"{CORE_USER}:name.familyName eq "JENSEN""#
    )));
    assert!(matches(&format!(
        r#"{ENTERPRISE}:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#
    )));
    assert!(matches(&format!(
        r#"{ENTERPRISE}:employeeNumber eq "701984""#
    )));
    assert!(
        !matches(&format!("{ENTERPRISE}:userName pr")),
        "not a core URN"
    );
    assert!(!matches("urn:example:other:userName pr"));
    // The core schema is also the first of `schemas`.
    let resource = json!({"schemas": ["urn:example:custom:Device"], "serial": "X1"});
    assert!(parse(r#"urn:example:custom:Device:serial eq "x1""#).matches(&resource, &UserTypes));
}

#[test]
fn unqualified_names_fall_back_to_extensions() {
    assert!(matches(r#"tonkeanRoles eq "SYSTEM_USER""#));
    assert!(matches(r#"employeeNumber eq "701984""#));
    assert!(matches(r#"manager.displayName sw "john""#));
    assert!(!matches("resourceType pr"), "meta is no extension");
}

#[test]
fn evaluates_logical_operators() {
    assert!(matches(r#"userName sw "bj" and active eq true"#));
    assert!(!matches(r#"userName sw "bj" and active eq false"#));
    assert!(matches(r#"userName sw "x" or active eq true"#));
    assert!(!matches(r#"not (userName sw "bj")"#));
    assert!(matches(
        r#"not (userName sw "bj") or (title eq null and not (ims pr))"#
    ));
}

#[test]
fn evaluates_group_members() {
    let types = UserTypes;
    let group = group();
    let check = |input: &str| parse(input).matches(&group, &types);
    assert!(check(r#"members[value eq "902c246b"]"#));
    assert!(check(r#"members.value eq "902c246b""#));
    assert!(check(r#"members eq "2819c223""#));
    assert!(check(r#"members.$ref ew "/2819c223""#));
    assert!(check(r#"members[$ref pr and display eq "babs"]"#));
    assert!(!check(r#"members[$ref pr and display eq "mandy"]"#));
    assert!(!check(r#"members[value eq "nobody"]"#));
}

#[test]
fn matches_single_values_for_patch() {
    let types = UserTypes;
    let Ok(PatchPath::ValuePath { attr, filter, .. }) =
        parse_patch_path(r#"members[value eq "902c246b"]"#, &Limits::default())
    else {
        panic!("not a value path");
    };
    let group = group();
    let members = group["members"].as_array().unwrap();
    let hits: Vec<bool> = members
        .iter()
        .map(|m| filter.matches_value(m, &attr, &types))
        .collect();
    assert_eq!(hits, [false, true]);

    let Ok(PatchPath::ValuePath { attr, filter, .. }) = parse_patch_path(
        r#"urn:scim:tonkean:tonkeanRoles[value eq "system_user"]"#,
        &Limits::default(),
    ) else {
        panic!("not a value path");
    };
    let user = user();
    let roles = user["urn:scim:tonkean"]["tonkeanRoles"].as_array().unwrap();
    let hits: Vec<bool> = roles
        .iter()
        .map(|r| filter.matches_value(r, &attr, &types))
        .collect();
    assert_eq!(hits, [false, true]);
}

#[test]
fn asks_the_schema_about_whole_paths() {
    use std::cell::RefCell;
    #[derive(Default)]
    struct Recorder(RefCell<Vec<String>>);
    impl AttributeTypes for Recorder {
        fn case_exact(&self, path: &AttrPath) -> bool {
            self.0.borrow_mut().push(path.to_string());
            false
        }
        fn kind(&self, _: &AttrPath) -> AttrKind {
            AttrKind::String
        }
    }
    let recorder = Recorder::default();
    let filter = parse(
        r#"emails[type eq "x"] or emails co "y" or urn:scim:tonkean:tonkeanRoles eq "z" or urn:scim:tonkean:tonkeanRoles[value eq "z"]"#,
    );
    assert!(!filter.matches(&user(), &recorder));
    let mut asked = recorder.0.into_inner();
    asked.sort();
    asked.dedup();
    assert_eq!(
        asked,
        [
            "emails.type",
            "emails.value",
            "urn:scim:tonkean:tonkeanRoles"
        ]
    );
}

#[test]
fn path_values_flatten_multi_valued_attributes() {
    let user = user();
    let values = |path: AttrPath| path.values(&user).into_iter().cloned().collect::<Vec<_>>();
    assert_eq!(
        values(attr("emails").with_sub_attr("type")),
        [json!("work"), json!("home")]
    );
    assert_eq!(
        values(attr("tonkeanRoles").with_urn("urn:scim:tonkean")),
        [json!("PROCESS_CONTRIBUTOR"), json!("SYSTEM_USER")]
    );
    assert_eq!(
        values(attr("NAME").with_sub_attr("givenname")),
        [json!("Barbara")]
    );
    assert!(values(attr("nickName")).is_empty());
    assert!(values(attr("nothing")).is_empty());
    assert!(
        AttrPath::new("a")
            .values(&json!("not an object"))
            .is_empty()
    );
}

#[test]
fn a_whole_extension_urn_names_the_extension() {
    assert!(matches("urn:scim:tonkean pr"));
    assert!(matches(&format!("{ENTERPRISE} pr")));
    assert!(!matches("urn:scim:other pr"));
    let values = attr("tonkean").with_urn("urn:scim").values(&user()).len();
    assert_eq!(values, 1);
}

#[test]
fn names_attribute_kinds_by_their_schema_type() {
    assert_eq!(
        AttrKind::from_type_name("dateTime"),
        Some(AttrKind::DateTime)
    );
    assert_eq!(
        AttrKind::from_type_name("DATETIME"),
        Some(AttrKind::DateTime)
    );
    assert_eq!(
        AttrKind::from_type_name("reference"),
        Some(AttrKind::Reference)
    );
    assert_eq!(AttrKind::from_type_name("date"), None);
}

#[test]
fn non_object_resources_match_nothing() {
    for resource in [json!(null), json!([1, 2]), json!("userName")] {
        assert!(!parse("userName pr").matches(&resource, &UserTypes));
        assert!(parse("userName eq null").matches(&resource, &UserTypes));
    }
}

// ---------------------------------------------------------------------------------------------
// Display

#[test]
fn displays_canonical_filter_text() {
    for (input, canonical) in [
        (r#"userName EQ "x""#, r#"userName eq "x""#),
        ("  a PR  ", "a pr"),
        ("a eq TRUE", "a eq true"),
        ("a eq NULL", "a eq null"),
        ("a eq 1E3", "a eq 1000.0"),
        ("a eq -0", "a eq -0.0"),
        ("a eq 2.50", "a eq 2.5"),
        (
            r#"a eq "q\"b\\s\/\u00e9\u0001""#,
            r#"a eq "q\"b\\s/é\u0001""#,
        ),
        ("(a pr or b pr) and c pr", "(a pr or b pr) and c pr"),
        ("a pr or (b pr and c pr)", "a pr or b pr and c pr"),
        ("(a pr or b pr) or c pr", "a pr or b pr or c pr"),
        ("NOT(a pr)", "not (a pr)"),
        ("not (a pr or b pr)", "not (a pr or b pr)"),
        (
            r#"emails[type eq "work" or primary eq true]"#,
            r#"emails[type eq "work" or primary eq true]"#,
        ),
        (
            "urn:scim:tonkean:tonkeanRoles pr",
            "urn:scim:tonkean:tonkeanRoles pr",
        ),
        (
            &format!("{ENTERPRISE}:manager.value pr"),
            &format!("{ENTERPRISE}:manager.value pr"),
        ),
    ] {
        assert_eq!(parse(input).to_string(), canonical, "{input}");
    }
}

#[test]
fn eq_string_builds_lookup_filters_that_read_back() {
    let filter = Filter::eq_string(attr("userName"), r#"o"brien\x"#);
    assert_eq!(filter.to_string(), r#"userName eq "o\"brien\\x""#);
    assert_eq!(parse(&filter.to_string()), filter);
}

#[test]
fn displays_patch_paths() {
    for input in [
        "members",
        "name.familyName",
        "urn:scim:tonkean:tonkeanRoles",
        r#"members[value eq "2819c223"]"#,
        r#"emails[type eq "work"].value"#,
    ] {
        assert_eq!(
            parse_patch_path(input, &Limits::default())
                .unwrap()
                .to_string(),
            input
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Robustness: no input panics, overflows the stack or takes long.

use crate::random::Lcg;

#[test]
fn random_soup_never_panics() {
    const PIECES: &[&str] = &[
        "(", ")", "[", "]", "\"", "\\", " ", " ", "not", "and", "or", "pr", "eq", "co", "gt",
        "userName", "emails", ".", ":", "urn:x:y", "value", "\"x\"", "1", "-", "e", "true", "null",
        "é", "\u{0}", "\t", "$ref", "\\u", "ud800",
    ];
    let mut rng = Lcg(0x5c1f_0e11);
    let limits = Limits::default();
    let started = Instant::now();
    let mut parsed = 0;
    for _ in 0..20_000 {
        let mut input = String::new();
        for _ in 0..rng.below(40) {
            if rng.below(8) == 0 {
                input.push(char::from_u32(rng.below(0x3000) as u32).unwrap_or('?'));
            } else {
                let piece = rng.pick::<&str>(PIECES);
                input.push_str(piece);
            }
        }
        if let Ok(filter) = parse_filter(&input, &limits) {
            parsed += 1;
            // Whatever parses prints back to text that parses and prints the same.
            let text = filter.to_string();
            let generous = Limits {
                max_len: usize::MAX,
                max_depth: 64,
            };
            let reparsed =
                parse_filter(&text, &generous).unwrap_or_else(|e| panic!("{input} → {text}: {e}"));
            assert_eq!(reparsed.to_string(), text, "{input}");
            let _ = filter.matches(&user(), &UserTypes);
        }
        let _ = parse_patch_path(&input, &limits);
    }
    assert!(parsed > 0);
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn deep_input_is_refused_without_overflowing_the_stack() {
    let limits = Limits {
        max_len: usize::MAX,
        max_depth: 16,
    };
    for input in [
        "(".repeat(200_000),
        format!("{}a pr{}", "(".repeat(100_000), ")".repeat(100_000)),
        "not (".repeat(100_000),
        "emails[".repeat(100_000),
        format!("a[{}", "(".repeat(100_000)),
    ] {
        let error = parse_filter(&input, &limits).unwrap_err();
        assert!(
            matches!(
                error.kind(),
                FilterErrorKind::TooDeep { .. } | FilterErrorKind::NestedValuePath
            ),
            "{error}"
        );
        assert!(parse_patch_path(&input, &limits).is_err());
    }
}

#[test]
fn long_chains_stay_shallow() {
    let limits = Limits {
        max_len: usize::MAX,
        max_depth: 16,
    };
    let terms: Vec<String> = (0..20_000)
        .map(|i| format!("userName eq \"u{i}\""))
        .collect();
    let filter = parse_filter(&terms.join(" or "), &limits).unwrap();
    assert!(filter.matches(&json!({"userName": "U19999"}), &UserTypes));
    assert!(!filter.matches(&json!({"userName": "u20000"}), &UserTypes));
    assert_eq!(parse_filter(&filter.to_string(), &limits).unwrap(), filter);
    // 2^16 terms make a tree of height 17.
    let terms = vec!["a pr"; 65_537].join(" and ");
    let error = parse_filter(&terms, &limits).unwrap_err();
    assert_eq!(error.kind(), &FilterErrorKind::TooDeep { max: 16 });
}

fn random_path(rng: &mut Lcg, inner: bool) -> AttrPath {
    const ATTRS: &[&str] = &[
        "userName",
        "title",
        "emails",
        "name",
        "active",
        "loginCount",
        "not",
        "pr",
        "and",
    ];
    const SUBS: &[&str] = &["value", "type", "givenName", "primary", "$ref"];
    let mut path = AttrPath::new(*rng.pick(if inner { SUBS } else { ATTRS }));
    if !inner {
        if rng.below(4) == 0 {
            path.sub_attr = Some((*rng.pick(SUBS)).to_owned());
        }
        if rng.below(5) == 0 {
            path.urn = Some((*rng.pick(&[CORE_USER, ENTERPRISE, "urn:scim:tonkean"])).to_owned());
        }
    }
    path
}
fn random_value(rng: &mut Lcg) -> CompValue {
    const STRINGS: &[&str] = &[
        "",
        "work",
        "BJENSEN",
        "a\"b",
        "back\\slash",
        "é😀",
        "\n\t\u{1}",
        "]) or (",
        "bjensen@example.com",
    ];
    match rng.below(6) {
        0 => CompValue::Null,
        1 => CompValue::Bool(rng.below(2) == 0),
        2 => CompValue::Number((i64::try_from(rng.below(100)).unwrap() - 50).into()),
        3 => CompValue::Number(
            serde_json::Number::from_f64(rng.below(1000) as f64 / 8.0 + 0.5).unwrap(),
        ),
        _ => CompValue::String((*rng.pick(STRINGS)).to_owned()),
    }
}
fn random_filter(rng: &mut Lcg, depth: usize, inner: bool) -> Filter {
    let choice = if depth == 0 {
        rng.below(2)
    } else {
        rng.below(6)
    };
    let ops = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ];
    match choice {
        0 => Filter::Present(random_path(rng, inner)),
        1 => Filter::Compare(random_path(rng, inner), *rng.pick(&ops), random_value(rng)),
        2 => Filter::Not(Box::new(random_filter(rng, depth - 1, inner))),
        3 => Filter::And(
            Box::new(random_filter(rng, depth - 1, inner)),
            Box::new(random_filter(rng, depth - 1, inner)),
        ),
        4 => Filter::Or(
            Box::new(random_filter(rng, depth - 1, inner)),
            Box::new(random_filter(rng, depth - 1, inner)),
        ),
        _ if inner => Filter::Present(random_path(rng, inner)),
        _ => Filter::ValuePath(
            AttrPath::new(*rng.pick(&["emails", "name", "members"])),
            Box::new(random_filter(rng, depth - 1, true)),
        ),
    }
}

/// Random well-formed filters, printed, parse back to filters that print the same and match the
/// same resources.
#[test]
fn random_filters_round_trip_through_display() {
    let mut rng = Lcg(7);
    let resources = [
        user(),
        group(),
        json!({"userName": "a\"b", "title": "work", "emails": [{"value": "é😀", "type": "BJENSEN"}]}),
    ];
    for _ in 0..3_000 {
        let filter = random_filter(&mut rng, 5, false);
        let text = filter.to_string();
        let parsed = parse_filter(
            &text,
            &Limits {
                max_len: usize::MAX,
                max_depth: 64,
            },
        )
        .unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(parsed.to_string(), text, "{filter:?}");
        for resource in &resources {
            assert_eq!(
                parsed.matches(resource, &UserTypes),
                filter.matches(resource, &UserTypes),
                "{text}"
            );
        }
    }
}

#[test]
fn parentheses_are_found_outside_string_literals_only() {
    for (text, expected) in [
        (r#"(userName eq "a")"#, true),
        (r#"not (userName eq "a")"#, true),
        (r#"userName eq "a" and (title pr or nickName pr)"#, true),
        (r#"displayName eq "a (b) [c]""#, false),
        (r#"displayName eq "a \" (b""#, false),
        (r#"emails[value eq "a"]"#, false),
        (r#"userName eq "a""#, false),
    ] {
        assert_eq!(has_parentheses(text), expected, "{text}");
    }
}

//! Which provider profile a server behaves like (README, Provider profiles): doctor observes
//! what a profile documents and a few requests show, and compares.
//!
//! A real service is known by its URL first (its documented base URL); any server, the
//! embedded one emulating a service included, is known by its behaviour: whether it offers
//! `/Bulk`, its largest page, whether it refuses filters other than `eq`, whether it shows
//! group members, and whether it announces Tonkean's role extension.

use scim::profile::{Filters, PROFILES, Profile};

/// What doctor saw of a server; `None` where it could not tell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// The base URL, lower case.
    pub url: String,
    /// Whether `/ServiceProviderConfig` announces `/Bulk`.
    pub bulk: Option<bool>,
    /// `filter.maxResults`.
    pub max_results: Option<usize>,
    /// Whether a `co` filter was refused with 400.
    pub eq_only: Option<bool>,
    /// Whether `GET /Groups` and `GET /Groups/{id}` hide members.
    pub members_hidden: Option<bool>,
    /// Whether `/Schemas` announces `urn:scim:tonkean`.
    pub tonkean_extension: Option<bool>,
}

/// The documented base URL hosts and paths of each service, by profile name.
const URL_SIGNS: [(&str, &[&str]); 4] = [
    ("aws-identity-center", &["amazonaws.com/", "/scim/v2"]),
    ("github-emu", &["/scim/v2/enterprises/"]),
    ("slack", &["api.slack.com/scim"]),
    ("databricks", &["databricks.com/api/2.0/accounts/"]),
];

/// The profile whose documented URL the server's URL has, if any.
#[must_use]
pub fn by_url(url: &str) -> Option<&'static Profile> {
    let url = url.to_ascii_lowercase();
    let (name, _) = URL_SIGNS
        .iter()
        .find(|(_, signs)| signs.iter().all(|sign| url.contains(sign)))?;
    scim::profile::find(name)
}

/// Where the server departs from what `profile` documents, each in a phrase; empty when
/// nothing observed contradicts it.
#[must_use]
pub fn differences(profile: &Profile, seen: &Observed) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(bulk) = seen.bulk
        && bulk != profile.bulk
    {
        out.push(if bulk {
            "it offers /Bulk".to_owned()
        } else {
            "it offers no /Bulk".to_owned()
        });
    }
    if let Some(max) = seen.max_results
        && max != profile.paging.max_count
    {
        out.push(format!(
            "its pages hold up to {max}, not {}",
            profile.paging.max_count
        ));
    }
    if let Some(eq_only) = seen.eq_only {
        let documented = profile.filters == Filters::EqAnd;
        if eq_only && !documented {
            out.push("it refuses filters other than `eq`".to_owned());
        }
    }
    if let Some(hidden) = seen.members_hidden {
        let documented = profile.members.hidden_filter().is_some();
        if hidden != documented {
            out.push(if hidden {
                "it hides group members".to_owned()
            } else {
                "it shows group members".to_owned()
            });
        }
    }
    let tonkean = profile
        .roles
        .is_some_and(|r| r.schema == scim::urn::TONKEAN);
    if tonkean && seen.tonkean_extension == Some(false) {
        out.push("it announces no `urn:scim:tonkean` extension".to_owned());
    }
    out
}

/// The profiles the server behaves like: the one its URL names, or else every profile that
/// nothing observed contradicts. More than one means the observations cannot tell them apart.
#[must_use]
pub fn matching(seen: &Observed) -> Vec<&'static Profile> {
    if let Some(profile) = by_url(&seen.url) {
        return vec![profile];
    }
    PROFILES
        .into_iter()
        .filter(|profile| differences(profile, seen).is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use scim::profile::{AWS_IDENTITY_CENTER, GITHUB_EMU, TONKEAN};

    fn as_documented(profile: &Profile) -> Observed {
        Observed {
            url: "http://127.0.0.1:8080/scim/v2".into(),
            bulk: Some(profile.bulk),
            max_results: Some(profile.paging.max_count),
            eq_only: Some(profile.filters == Filters::EqAnd),
            members_hidden: Some(profile.members.hidden_filter().is_some()),
            tonkean_extension: Some(true),
        }
    }

    #[test]
    fn each_profile_as_documented_is_told_from_the_others() {
        for profile in PROFILES {
            assert_eq!(
                matching(&as_documented(profile)),
                vec![profile],
                "{}",
                profile.name
            );
        }
    }

    #[test]
    fn a_service_s_documented_url_names_it() {
        let url = "https://scim.eu-west-1.amazonaws.com/a1b2c3/scim/v2";
        assert_eq!(by_url(url), Some(&AWS_IDENTITY_CENTER));
        let url = "https://api.github.com/scim/v2/enterprises/acme";
        assert_eq!(by_url(url), Some(&GITHUB_EMU));
        assert_eq!(by_url("https://tonkean.example.com/scim/v2"), None);
    }

    #[test]
    fn what_contradicts_a_profile_is_named() {
        let mut seen = as_documented(&AWS_IDENTITY_CENTER);
        seen.members_hidden = Some(false);
        seen.bulk = Some(true);
        assert_eq!(
            differences(&AWS_IDENTITY_CENTER, &seen),
            ["it offers /Bulk", "it shows group members"]
        );
        assert!(differences(&TONKEAN, &as_documented(&TONKEAN)).is_empty());
    }
}

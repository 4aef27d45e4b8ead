//! The words of a PATCH request (RFC 7644 §3.5.2): its verbs and the names of its members.

/// The member of a `PatchOp` body that lists its operations.
pub const OPERATIONS: &str = "Operations";

/// A PATCH operation's verb, the `op` member of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Replace,
    Remove,
}

impl Op {
    /// The verb as the RFC writes it: `add`, `replace`, `remove`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Add => "add",
            Self::Replace => "replace",
            Self::Remove => "remove",
        }
    }

    /// The verb `word` names; case is ignored (`"Add"`, `"REPLACE"`), as servers in the wild
    /// send it.
    #[must_use]
    pub fn from_word(word: &str) -> Option<Self> {
        [Self::Add, Self::Replace, Self::Remove]
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(word))
    }
}

#[cfg(test)]
mod tests {
    use super::Op;

    #[test]
    fn verbs_read_in_any_case_and_write_as_the_rfc_does() {
        for op in [Op::Add, Op::Replace, Op::Remove] {
            assert_eq!(Op::from_word(op.as_str()), Some(op));
            assert_eq!(Op::from_word(&op.as_str().to_uppercase()), Some(op));
        }
        assert_eq!(Op::from_word("Add"), Some(Op::Add));
        assert_eq!(Op::from_word("delete"), None);
        assert_eq!(Op::from_word(""), None);
    }
}

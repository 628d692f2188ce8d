//! How every Roster error is told to a person (a log line, the CLI's stderr): its
//! message, then each cause the message does not already say, joined by `: `.

/// `e` and its causes in one line, each said once: an error whose message already
/// includes its source's text (`#[error("…: {0}")]`) is not followed by it again.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let said = cause.to_string();
        if !said.is_empty() && !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        next = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::error_chain;

    #[derive(Debug, thiserror::Error)]
    #[error("disk full")]
    struct Disk;

    #[derive(Debug, thiserror::Error)]
    enum Outer {
        #[error("cannot save the file")]
        Quiet(#[source] Disk),
        #[error("cannot save the file: {0}")]
        Says(#[source] Disk),
    }

    #[test]
    fn each_cause_is_said_once() {
        assert_eq!(
            error_chain(&Outer::Quiet(Disk)),
            "cannot save the file: disk full"
        );
        assert_eq!(
            error_chain(&Outer::Says(Disk)),
            "cannot save the file: disk full"
        );
    }
}

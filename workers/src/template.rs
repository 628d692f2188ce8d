//! The invitation email's text and HTML, from the template files under
//! `workers/templates/` (compiled in), with `{{name}}`-style placeholders.

/// Values the invitation templates use.
#[derive(Debug, Clone)]
pub struct InvitationMail {
    /// The invitee's name.
    pub name: String,
    /// The organization's name.
    pub org: String,
    /// Who invited them.
    pub inviter: String,
    /// The role(s) offered, in words.
    pub role: String,
    /// The accept link.
    pub link: String,
    /// When the link stops working, in words.
    pub expires: String,
}

const TEXT: &str = include_str!("../templates/invitation.txt");
const HTML: &str = include_str!("../templates/invitation.html");

/// Fills the template in one pass over the template's own text: a value is
/// never scanned for placeholders, so a person named `{{link}}` stays a name.
fn fill(template: &str, mail: &InvitationMail, escape: fn(&str) -> String) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let value = match &after[..end] {
            "name" => Some(&mail.name),
            "org" => Some(&mail.org),
            "inviter" => Some(&mail.inviter),
            "role" => Some(&mail.role),
            "link" => Some(&mail.link),
            "expires" => Some(&mail.expires),
            _ => None,
        };
        match value {
            Some(v) => out.push_str(&escape(v)),
            None => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The plain-text part.
pub fn text(mail: &InvitationMail) -> String {
    fill(TEXT, mail, str::to_owned)
}

/// The HTML part, with every value escaped.
pub fn html(mail: &InvitationMail) -> String {
    fill(HTML, mail, html_escape)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_fill_both_parts_and_html_is_escaped() {
        let mail = InvitationMail {
            name: "Ann <Lee>".into(),
            org: "Acme & Co".into(),
            inviter: "Olive".into(),
            role: "admin".into(),
            link: "https://x/invitations/abc".into(),
            expires: "2026-01-01 09:15 UTC".into(),
        };
        let t = text(&mail);
        assert!(
            t.contains("Hello Ann <Lee>,")
                && t.contains("https://x/invitations/abc")
                && t.contains("2026-01-01 09:15 UTC")
        );
        let h = html(&mail);
        assert!(h.contains("Ann &lt;Lee&gt;") && h.contains("Acme &amp; Co") && !h.contains("{{"));
    }

    #[test]
    fn placeholders_inside_values_stay_text() {
        let mail = InvitationMail {
            name: "{{link}}".into(),
            org: "{{expires}} Inc".into(),
            inviter: "Olive".into(),
            role: "admin".into(),
            link: "https://x/invitations/secret".into(),
            expires: "2026-01-01 09:15 UTC".into(),
        };
        let t = text(&mail);
        assert!(t.contains("Hello {{link}},"), "{t}");
        assert!(t.contains("{{expires}} Inc"), "{t}");
        assert_eq!(
            t.matches("https://x/invitations/secret").count(),
            TEXT.matches("{{link}}").count()
        );
    }
}

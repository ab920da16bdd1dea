//! The emails Enroll sends, in plain text and HTML, in English and Dutch (the customer's
//! locale picks; English otherwise).

/// A rendered message (the outbox keeps it until it is sent).
pub use crate::store::MailMessage as Message;

/// Languages with translations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English (the fallback).
    En,
    /// Dutch.
    Nl,
}

impl Lang {
    /// The language of a locale such as `nl_BE`; English when there is no translation.
    pub fn of(locale: &str) -> Lang {
        match locale.split(['_', '-']).next() {
            Some("nl") => Lang::Nl,
            _ => Lang::En,
        }
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn html(title: &str, paragraphs: &[String], link: Option<(&str, &str)>) -> String {
    let mut body = String::new();
    for p in paragraphs {
        body.push_str(&format!("<p>{}</p>\n", escape(p)));
    }
    // Only an http(s) link is rendered as one (a stored default may predate that rule).
    if let Some((label, href)) = link.filter(|(_, href)| crate::domain::link::is_http_url(href)) {
        body.push_str(&format!(
            "<p><a href=\"{}\" style=\"display:inline-block;padding:10px 16px;background:#1a56db;color:#fff;text-decoration:none;border-radius:4px\">{}</a></p>\n",
            escape(href),
            escape(label)
        ));
    }
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head>\n<body style=\"font-family:sans-serif;line-height:1.5\">\n{body}</body></html>\n",
        escape(title)
    )
}

/// "Reset your password" with the link.
pub fn password_reset(to: &str, lang: Lang, publisher: &str, link: &str) -> Message {
    let (subject, lines, button) = match lang {
        Lang::En => (
            format!("Reset your {publisher} password"),
            vec![
                "Hello,".to_owned(),
                format!("Someone asked to reset the password of your {publisher} account. If it was you, choose a new password with the link below. The link works once, for one hour."),
                "If you did not ask for this, ignore this email: your password stays as it is.".to_owned(),
            ],
            "Choose a new password",
        ),
        Lang::Nl => (
            format!("Stel je wachtwoord voor {publisher} opnieuw in"),
            vec![
                "Hallo,".to_owned(),
                format!("Er is gevraagd om het wachtwoord van je {publisher}-account opnieuw in te stellen. Was jij dat, kies dan met de link hieronder een nieuw wachtwoord. De link werkt één keer, een uur lang."),
                "Heb je dit niet gevraagd? Negeer dan deze e-mail: je wachtwoord blijft zoals het is.".to_owned(),
            ],
            "Kies een nieuw wachtwoord",
        ),
    };
    let text = format!("{}\n\n{}\n\n{link}\n\n{}\n", lines[0], lines[1], lines[2]);
    Message {
        to: to.to_owned(),
        html: html(&subject, &lines, Some((button, link))),
        subject,
        text,
    }
}

/// "Your password was changed".
pub fn password_changed(to: &str, lang: Lang, publisher: &str) -> Message {
    let (subject, lines) = match lang {
        Lang::En => (
            format!("Your {publisher} password was changed"),
            vec![
                "Hello,".to_owned(),
                format!(
                    "The password of your {publisher} account was just changed, and every device was signed out."
                ),
                format!(
                    "If you did not do this, reset your password at once and contact {publisher}."
                ),
            ],
        ),
        Lang::Nl => (
            format!("Je wachtwoord voor {publisher} is gewijzigd"),
            vec![
                "Hallo,".to_owned(),
                format!(
                    "Het wachtwoord van je {publisher}-account is zojuist gewijzigd en alle apparaten zijn afgemeld."
                ),
                format!(
                    "Heb jij dit niet gedaan? Stel je wachtwoord dan meteen opnieuw in en neem contact op met {publisher}."
                ),
            ],
        ),
    };
    let text = format!("{}\n\n{}\n\n{}\n", lines[0], lines[1], lines[2]);
    Message {
        to: to.to_owned(),
        html: html(&subject, &lines, None),
        subject,
        text,
    }
}

/// "Your verification code" (sent before registration).
pub fn verification_code(
    to: &str,
    lang: Lang,
    publisher: &str,
    code: &str,
    minutes: u64,
) -> Message {
    let (subject, lines) = match lang {
        Lang::En => (
            format!("Your {publisher} verification code: {code}"),
            vec![
                "Hello,".to_owned(),
                format!("Enter this code to create your {publisher} account: {code}"),
                format!(
                    "The code works once, for {minutes} minutes. If you did not ask for it, ignore this email."
                ),
            ],
        ),
        Lang::Nl => (
            format!("Je verificatiecode voor {publisher}: {code}"),
            vec![
                "Hallo,".to_owned(),
                format!("Vul deze code in om je {publisher}-account aan te maken: {code}"),
                format!(
                    "De code werkt één keer, {minutes} minuten lang. Heb je hem niet gevraagd? Negeer dan deze e-mail."
                ),
            ],
        ),
    };
    let text = format!("{}\n\n{}\n\n{}\n", lines[0], lines[1], lines[2]);
    Message {
        to: to.to_owned(),
        html: html(&subject, &lines, None),
        subject,
        text,
    }
}

/// "Confirm your email address" with the link.
pub fn email_confirmation(to: &str, lang: Lang, publisher: &str, link: &str) -> Message {
    let (subject, lines, button) = match lang {
        Lang::En => (
            format!("Confirm your email address for {publisher}"),
            vec![
                "Hello,".to_owned(),
                format!(
                    "Confirm that this is the email address of your {publisher} account with the link below. The link works once."
                ),
                "If you did not ask for this, ignore this email.".to_owned(),
            ],
            "Confirm my email address",
        ),
        Lang::Nl => (
            format!("Bevestig je e-mailadres voor {publisher}"),
            vec![
                "Hallo,".to_owned(),
                format!(
                    "Bevestig met de link hieronder dat dit het e-mailadres van je {publisher}-account is. De link werkt één keer."
                ),
                "Heb je dit niet gevraagd? Negeer dan deze e-mail.".to_owned(),
            ],
            "Bevestig mijn e-mailadres",
        ),
    };
    let text = format!("{}\n\n{}\n\n{link}\n\n{}\n", lines[0], lines[1], lines[2]);
    Message {
        to: to.to_owned(),
        html: html(&subject, &lines, Some((button, link))),
        subject,
        text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_and_escaping() {
        assert_eq!(Lang::of("nl_BE"), Lang::Nl);
        assert_eq!(Lang::of("de_DE"), Lang::En);
        let m = password_reset(
            "a@example.com",
            Lang::En,
            "Tom & Jerry <TV>",
            "https://x.example/r?a=1&b=2",
        );
        assert!(m.subject.contains("Tom & Jerry <TV>"));
        assert!(m.html.contains("Tom &amp; Jerry &lt;TV&gt;"));
        assert!(m.html.contains("href=\"https://x.example/r?a=1&amp;b=2\""));
        assert!(m.text.contains("https://x.example/r?a=1&b=2"));
        let nl = password_changed("a@example.com", Lang::Nl, "Demo");
        assert!(nl.subject.starts_with("Je wachtwoord"));
    }
}

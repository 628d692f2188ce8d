//! Roster's web page in a real headless Chromium, against the real server,
//! PostgreSQL and the SMTP sink: what an owner and an invitee do, click by click.

use roster::ShapeArg;
use roster_tests::browser::Browser;
use roster_tests::http::{TestServer, PASSWORD};

const OWNER: &str = "olive@example.com";

pub(crate) async fn open_user_management(b: &Browser) -> anyhow::Result<()> {
    b.open_user_menu().await?;
    b.click("User management").await?;
    b.see("h1", "User management").await
}

/// The success banner shows `text`, then fades by itself.
pub(crate) async fn banner(b: &Browser, text: &str) -> anyhow::Result<()> {
    b.see(".toast", text).await?;
    b.gone(".toast").await
}

/// The row of the table cell holding `text`.
fn row_with(text: &str) -> String {
    format!("//tr[td[normalize-space()=\"{text}\"]]")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_invites_resends_cancels_and_the_invitee_joins_then_is_changed_and_removed() {
    let server = TestServer::start().await.expect("server");
    let (org, _, _) = server.org_with_owner(ShapeArg::Single, OWNER, vec![]).await;
    let b = Browser::open(&server.base, 1280).await.expect("browser");
    let invitee = "ian@example.com";

    // Sign-in, then user management from the user menu; the owner is listed first, as "You".
    b.sign_in(OWNER, PASSWORD).await.expect("signed in");
    open_user_management(&b).await.expect("user management");
    b.see("tbody tr.you", "You").await.expect("owner pinned");
    b.see("tbody tr.you", OWNER).await.expect("owner row");

    // Invite: the button stays disabled until every input is valid.
    b.click("+ Invite user").await.expect("invite button");
    let send = b.button("Send invitation").await.expect("send");
    assert!(!send.is_enabled().await.expect("enabled?"), "empty form");
    b.fill("Full name", "Ian Invitee").await.expect("name");
    b.fill("Email", "not-an-email").await.expect("email");
    b.choose("Role", "admin").await.expect("role");
    b.see("dialog[open] .field-error", "email address like")
        .await
        .expect("inline email error");
    assert!(!send.is_enabled().await.expect("enabled?"), "bad email");
    b.fill("Email", invitee).await.expect("email");
    b.until("Send to be enabled", || async {
        Ok(send.is_enabled().await?)
    })
    .await
    .expect("valid form");
    send.click().await.expect("send");
    banner(&b, &format!("Invitation sent to {invitee}"))
        .await
        .expect("banner");
    b.see("section[aria-labelledby=invites-title] tbody", invitee)
        .await
        .expect("pending invite listed at once");
    b.see("section[aria-labelledby=invites-title] tbody", "min left")
        .await
        .expect("time left");

    // Resend waits a minute after the last send, counting down on the button
    // rather than refusing when pressed; then cancel (with confirmation): the
    // list follows at once.
    let waiting = b
        .find("section[aria-labelledby=invites-title] tbody button[data-resend-after]")
        .await
        .expect("resend button");
    assert!(
        waiting
            .text()
            .await
            .expect("label")
            .starts_with("Resend in "),
        "the cooldown shows"
    );
    assert!(!waiting.is_enabled().await.expect("enabled?"));
    server.clock.advance(chrono::Duration::seconds(61));
    // A reload keeps the tab (it is in the address).
    let url = b.client.current_url().await.expect("url");
    assert_eq!(url.query(), Some("tab=pending"), "{url}");
    b.goto(&format!("/orgs/{org}/users?tab=pending"))
        .await
        .expect("reload");
    b.click("Resend").await.expect("resend");
    banner(&b, &format!("Invitation sent again to {invitee}"))
        .await
        .expect("resent banner");
    b.click("Cancel").await.expect("cancel");
    b.see("dialog[open]", "stops working")
        .await
        .expect("confirm");
    b.click("Cancel invitation").await.expect("confirm cancel");
    b.see(".toast", "cancelled").await.expect("cancel banner");
    b.see(".empty", "No pending invitations")
        .await
        .expect("no pending invite");

    // Invite again; inviting the same person once more offers to resend instead.
    for attempt in 0..2 {
        b.click("+ Invite user").await.expect("invite button");
        b.fill("Full name", "Ian Invitee").await.expect("name");
        b.fill("Email", invitee).await.expect("email");
        b.choose("Role", "admin").await.expect("role");
        b.click("Send invitation").await.expect("send");
        if attempt == 0 {
            b.see(".toast", "Invitation sent").await.expect("banner");
        }
    }
    b.see("dialog[open] .alert", "already has an invitation")
        .await
        .expect("already invited");
    server.clock.advance(chrono::Duration::seconds(61));
    b.see("dialog[open] .alert", "as Admin")
        .await
        .expect("the refusal names the role offered");
    b.click("Resend as Admin").await.expect("resend instead");
    b.see(".toast", "sent again").await.expect("resent");
    b.gone("dialog[open]").await.expect("dialog closed");

    // The invitee opens the link from the delivered email, signed out.
    let emails_before = 0;
    let token = server.token_from_email(invitee, emails_before).await;
    b.sign_out().await.expect("signed out");
    b.goto(&format!("/invitations/{token}"))
        .await
        .expect("link");
    b.see("h1", "Join Org of olive@example.com")
        .await
        .expect("accept page");
    b.see("dl.facts", "Admin").await.expect("role shown");
    b.see("dl.facts", "Owner").await.expect("inviter shown");
    b.fill("Choose a password", "short")
        .await
        .expect("password");
    b.fill("Repeat the password", "short")
        .await
        .expect("repeat");
    b.click("Accept invitation").await.expect("accept");
    b.see(".field-error", "12 characters")
        .await
        .expect("password rule");
    b.fill("Choose a password", PASSWORD)
        .await
        .expect("password");
    b.fill("Repeat the password", PASSWORD)
        .await
        .expect("repeat");
    b.click("Accept invitation").await.expect("accept");
    b.see("h1", "Your organizations").await.expect("joined");
    b.see(".org-card", "Admin").await.expect("role on the card");

    // A non-owner never sees user management, even by its address.
    b.open_user_menu().await.expect("menu");
    let menu = b.find("#user-menu-list").await.expect("menu list");
    assert!(!menu.text().await.expect("text").contains("User management"));
    b.goto(&format!("/orgs/{org}/users")).await.expect("goto");
    b.see("h1", "Not available to you").await.expect("refused");
    b.goto("/").await.expect("home");
    b.sign_out().await.expect("signed out");

    // The owner changes the new member's role, then removes them.
    b.sign_in(OWNER, PASSWORD).await.expect("owner again");
    open_user_management(&b).await.expect("user management");
    let row = row_with(invitee);
    b.see("tbody", invitee).await.expect("new member listed");
    b.click("Edit").await.expect("edit"); // the first Edit is the owner's own row
    b.see("dialog[open]", "only owner")
        .await
        .expect("the last owner cannot be demoted");
    assert!(!b
        .button("Remove yourself")
        .await
        .expect("delete")
        .is_enabled()
        .await
        .expect("enabled?"));
    b.click("Cancel").await.expect("close");
    b.client
        .find(fantoccini::Locator::XPath(&format!("{row}//button")))
        .await
        .expect("member's edit")
        .click()
        .await
        .expect("edit");
    b.choose("Role", "standard").await.expect("role");
    b.click("Save changes").await.expect("save");
    banner(&b, "Ian Invitee is now Standard")
        .await
        .expect("changed banner");
    b.see("tbody", "Standard").await.expect("new role listed");
    b.client
        .find(fantoccini::Locator::XPath(&format!("{row}//button")))
        .await
        .expect("member's edit")
        .click()
        .await
        .expect("edit");
    b.click("Delete user").await.expect("delete");
    b.see("dialog[open] h2", "Delete Ian Invitee?")
        .await
        .expect("confirm");
    b.click("Delete user").await.expect("confirm delete");
    b.see(".toast", "was removed")
        .await
        .expect("removed banner");
    b.until("the member to leave the list", || async {
        Ok(!b.page_text().await?.contains(invitee))
    })
    .await
    .expect("gone");
    b.close().await.expect("close");
}

/// Clicks the Edit button on the member row holding `email`.
async fn edit_member(b: &Browser, email: &str) -> anyhow::Result<()> {
    let edit = b
        .poll(&format!("the Edit button of {email}"), || async {
            Ok(Some(
                b.client
                    .find(fantoccini::Locator::XPath(&format!(
                        "{}//button",
                        row_with(email)
                    )))
                    .await?,
            ))
        })
        .await?;
    edit.click().await?;
    b.find("dialog[open]").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_multi_account_org_the_owner_assigns_accounts_and_a_known_person_signs_in_to_accept() {
    let server = TestServer::start().await.expect("server");
    let owner = "mona@example.com";
    let (org, _, _) = server
        .org_with_owner(
            ShapeArg::Multi,
            owner,
            vec!["Alpha".to_owned(), "Beta".to_owned()],
        )
        .await;
    // Sam already has an account, as the owner of another organization.
    let sam = "sam@example.com";
    server.org_with_owner(ShapeArg::Single, sam, vec![]).await;
    let carl = "carl@example.com";
    let b = Browser::open(&server.base, 1280).await.expect("browser");

    b.sign_in(owner, PASSWORD).await.expect("signed in");
    b.see(".org-card", "Alpha")
        .await
        .expect("owner sees every account");
    open_user_management(&b).await.expect("user management");

    // A contributor needs at least one account before the form can be sent.
    b.click("+ Invite user").await.expect("invite");
    b.fill("Full name", "Carl Contributor").await.expect("name");
    b.fill("Email", carl).await.expect("email");
    b.choose("Organization role", "contributor")
        .await
        .expect("org role");
    let send = b.button("Send invitation").await.expect("send");
    assert!(
        !send.is_enabled().await.expect("enabled?"),
        "no account yet"
    );
    b.labelled("Beta")
        .await
        .expect("Beta")
        .click()
        .await
        .expect("check Beta");
    b.choose("Role on Beta", "admin").await.expect("Beta role");
    b.until("Send to be enabled", || async {
        Ok(send.is_enabled().await?)
    })
    .await
    .expect("valid");
    send.click().await.expect("send");
    b.see(".toast", "Invitation sent to carl@example.com")
        .await
        .expect("banner");
    b.see(
        "section[aria-labelledby=invites-title] tbody",
        "Contributor · Beta: Admin",
    )
    .await
    .expect("pending invite with its account roles");

    // An owner needs no accounts.
    b.click("+ Invite user").await.expect("invite");
    b.fill("Full name", "Sam Second").await.expect("name");
    b.fill("Email", sam).await.expect("email");
    b.choose("Organization role", "owner")
        .await
        .expect("org role");
    b.see("dialog[open]", "admin access to every account")
        .await
        .expect("owner note");
    b.click("Send invitation").await.expect("send");
    b.see(".toast", "Invitation sent to sam@example.com")
        .await
        .expect("banner");
    b.gone(".toast").await.expect("faded");
    let carl_token = server.token_from_email(carl, 0).await;
    let sam_token = server.token_from_email(sam, 0).await;
    b.sign_out().await.expect("out");

    // Carl is new: he sets a password and sees the one account he was given.
    b.goto(&format!("/invitations/{carl_token}"))
        .await
        .expect("link");
    b.see("dl.facts", "Contributor · Beta: Admin")
        .await
        .expect("offered role");
    b.fill("Choose a password", PASSWORD).await.expect("pw");
    b.fill("Repeat the password", PASSWORD).await.expect("pw");
    b.click("Accept invitation").await.expect("accept");
    b.see(".org-card", "Beta").await.expect("Beta on the card");
    let card = b.find(".org-card").await.expect("card");
    assert!(
        !card.text().await.expect("text").contains("Alpha"),
        "a contributor sees only the accounts assigned"
    );
    b.sign_out().await.expect("out");

    // Sam has an account: the link asks him to sign in, then he is in both organizations.
    b.goto(&format!("/invitations/{sam_token}"))
        .await
        .expect("link");
    b.see("h2", "Sign in to accept")
        .await
        .expect("sign in first");
    b.fill("Password", PASSWORD).await.expect("pw");
    b.click("Sign in and accept").await.expect("accept");
    b.see("h1", "Your organizations").await.expect("joined");
    b.until("both organizations", || async {
        Ok(b.client
            .find_all(fantoccini::Locator::Css(".org-card"))
            .await?
            .len()
            == 2)
    })
    .await
    .expect("two cards");
    b.sign_out().await.expect("out");

    // The owner gives Carl a second account.
    b.sign_in(owner, PASSWORD).await.expect("owner");
    b.goto(&format!("/orgs/{org}/users")).await.expect("users");
    edit_member(&b, carl).await.expect("edit Carl");
    b.labelled("Alpha")
        .await
        .expect("Alpha")
        .click()
        .await
        .expect("check Alpha");
    b.click("Save changes").await.expect("save");
    b.see(".toast", "Carl Contributor is now Contributor")
        .await
        .expect("banner");
    b.see("tbody", "Alpha: Standard, Beta: Admin")
        .await
        .expect("both accounts listed");
    b.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demoting_yourself_is_confirmed_first_with_the_safe_answer_focused() {
    let server = TestServer::start().await.expect("server");
    let (org, session, _) = server.org_with_owner(ShapeArg::Single, OWNER, vec![]).await;
    server
        .member(
            org,
            &session,
            "otto@example.com",
            serde_json::json!({ "role": "owner" }),
        )
        .await;
    server.drain().await;
    let b = Browser::open(&server.base, 1280).await.expect("browser");
    b.sign_in(OWNER, PASSWORD).await.expect("signed in");
    open_user_management(&b).await.expect("user management");
    b.see("tbody tr.you", "You").await.expect("own row");
    b.click("Edit").await.expect("edit"); // the first Edit is the owner's own row
    b.choose("Role", "standard").await.expect("role");
    b.click("Save changes").await.expect("save");
    b.see("dialog[open] h2", "Give up your owner role?")
        .await
        .expect("asked first");
    assert_eq!(
        focused(&b).await.expect("focus"),
        "Stay an owner",
        "Enter keeps the role"
    );
    b.click("Stay an owner").await.expect("stay");
    b.see("dialog[open] h2", "Edit")
        .await
        .expect("back to the form");
    b.click("Cancel").await.expect("close");
    b.see("tbody tr.you", "Owner")
        .await
        .expect("still an owner");

    // Asked again, and this time meant.
    b.click("Edit").await.expect("edit");
    b.choose("Role", "standard").await.expect("role");
    b.click("Save changes").await.expect("save");
    b.click("Become Standard").await.expect("confirm");
    b.until("the page to leave user management", || async {
        Ok(b.path().await? == "/")
    })
    .await
    .expect("no longer an owner");
    b.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_address_shows_the_pages_not_found_and_a_trailing_slash_still_works() {
    let server = TestServer::start().await.expect("server");
    let b = Browser::open(&server.base, 1280).await.expect("browser");
    b.goto("/no/such/page").await.expect("goto");
    b.see("h1", "Page not found")
        .await
        .expect("the page, not JSON");
    b.see("main a", "Go to your organizations")
        .await
        .expect("a way back");
    b.goto("/forgot-password/").await.expect("goto");
    b.until("the address without the slash", || async {
        Ok(b.path().await? == "/forgot-password")
    })
    .await
    .expect("redirected");
    b.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_that_no_longer_work_say_what_to_do_and_opening_a_link_does_not_use_it() {
    let server = TestServer::start().await.expect("server");
    let (org, session, _) = server.org_with_owner(ShapeArg::Single, OWNER, vec![]).await;
    let invite = |email: &'static str| {
        let server = &server;
        let session = session.clone();
        async move {
            let id = server
                .invite(
                    org,
                    &session,
                    serde_json::json!({ "email": email, "full_name": "Pat", "role": "standard" }),
                )
                .await;
            (id, server.token_of(org, id).await)
        }
    };
    let (_, expiring) = invite("exp@example.com").await;
    let (cancelled_id, cancelled) = invite("can@example.com").await;
    let (_, used) = invite("use@example.com").await;
    let (status, _) = server
        .call(
            "DELETE",
            &format!("/api/orgs/{org}/invitations/{cancelled_id}"),
            Some(&session),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let b = Browser::open(&server.base, 390).await.expect("browser");

    // Opening the link twice leaves it usable; then it is used once.
    b.goto(&format!("/invitations/{used}")).await.expect("open");
    b.see("h1", "Join").await.expect("preview");
    b.goto(&format!("/invitations/{used}"))
        .await
        .expect("again");
    b.see("h1", "Join").await.expect("still usable");
    let (status, _) = server.accept_as_new(&used, "Pat").await;
    assert_eq!(status, 201);
    b.goto(&format!("/invitations/{used}")).await.expect("used");
    b.see("h1", "already used").await.expect("used page");
    b.see("main", "If that was you, sign in")
        .await
        .expect("the way on");

    b.goto(&format!("/invitations/{cancelled}"))
        .await
        .expect("cancelled");
    b.see("h1", "was cancelled").await.expect("cancelled page");
    b.see(
        "main",
        "ask an owner of the organization to invite you again",
    )
    .await
    .expect("what to do");

    // A resend replaces the link: the old one says so and where to look.
    let (replaced_id, replaced) = invite("rep@example.com").await;
    server.clock.advance(chrono::Duration::seconds(61));
    let (status, _) = server
        .call(
            "POST",
            &format!("/api/orgs/{org}/invitations/{replaced_id}/resend"),
            Some(&session),
            None,
        )
        .await;
    assert_eq!(status, 200);
    b.goto(&format!("/invitations/{replaced}"))
        .await
        .expect("replaced");
    b.see("h1", "A newer invitation replaced this link")
        .await
        .expect("replaced page");
    b.see("main", "most recent email")
        .await
        .expect("what to do");

    server.clock.advance(chrono::Duration::minutes(16));
    server.drain().await;
    b.goto(&format!("/invitations/{expiring}"))
        .await
        .expect("expired");
    b.see("h1", "has expired").await.expect("expired page");
    b.see("main", "resend").await.expect("what to do");

    b.goto("/invitations/not-a-real-token")
        .await
        .expect("garbage");
    b.see("h1", "does not work").await.expect("invalid page");
    b.close().await.expect("close");
}

/// Presses `key` on whatever has the focus.
async fn press(b: &Browser, key: fantoccini::key::Key) -> anyhow::Result<()> {
    b.client
        .active_element()
        .await?
        .send_keys(&key.to_string())
        .await?;
    Ok(())
}

/// The focused element's text or, for an input, its label.
async fn focused(b: &Browser) -> anyhow::Result<String> {
    let v = b
        .eval(
            "const e = document.activeElement; \
             const l = e && e.id && document.querySelector(`label[for=\"${e.id}\"]`); \
             return (l ? l.textContent : (e ? e.textContent : '')).trim();",
        )
        .await?;
    Ok(v.as_str().unwrap_or_default().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_can_sign_in_and_open_and_close_the_invite_dialog_with_the_keyboard_alone() {
    use fantoccini::key::Key;
    // On the embedded default (SQLite), as `roster serve` runs out of the box.
    let server = TestServer::start_on(roster_tests::Backend::Sqlite)
        .await
        .expect("server");
    let (org, _, _) = server.org_with_owner(ShapeArg::Single, OWNER, vec![]).await;
    let b = Browser::open(&server.base, 390).await.expect("browser");

    // The sign-in form takes the focus; typing and Enter sign in.
    b.goto(&format!("/orgs/{org}/users")).await.expect("goto");
    b.see("h1", "Sign in")
        .await
        .expect("asked to sign in first");
    assert_eq!(focused(&b).await.expect("focus"), "Email");
    let email = b.client.active_element().await.expect("focus");
    email
        .send_keys(&format!("{OWNER}{}", Key::Enter))
        .await
        .expect("type");
    // The address first: it signs in with a password, which is asked next.
    b.until("the password is asked", || async {
        Ok(focused(&b).await? == "Password")
    })
    .await
    .expect("password focused");
    let password = b.client.active_element().await.expect("focus");
    password
        .send_keys(&format!("{PASSWORD}{}", Key::Enter))
        .await
        .expect("type");
    b.see("h1", "User management")
        .await
        .expect("back where the owner was going");

    // Tab reaches the invite button; Enter opens the dialog with the focus in its
    // first field; Escape closes it and gives the focus back.
    let mut reached = false;
    for _ in 0..12 {
        press(&b, Key::Tab).await.expect("tab");
        if focused(&b).await.expect("focus") == "+ Invite user" {
            reached = true;
            break;
        }
    }
    assert!(reached, "the invite button is reachable with Tab");
    press(&b, Key::Enter).await.expect("enter");
    b.find("dialog[open]").await.expect("dialog");
    assert_eq!(focused(&b).await.expect("focus"), "Full name");
    press(&b, Key::Escape).await.expect("escape");
    b.gone("dialog[open]").await.expect("closed");
    assert_eq!(focused(&b).await.expect("focus"), "+ Invite user");
    b.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_filters_the_activity_and_sees_the_members_as_they_were() {
    let server = TestServer::start().await.expect("server");
    let (org, session, _) = server.org_with_owner(ShapeArg::Single, OWNER, vec![]).await;
    server
        .member(
            org,
            &session,
            "ada@example.com",
            serde_json::json!({ "role": "admin" }),
        )
        .await;
    let b = Browser::open(&server.base, 1280).await.expect("browser");
    b.sign_in(OWNER, PASSWORD).await.expect("signed in");
    b.open_user_menu().await.expect("menu");
    b.click("Activity").await.expect("activity");
    b.see("h1", "Activity").await.expect("page");
    b.see("tbody", "accepted the invitation")
        .await
        .expect("history lines");
    // Newest first, with event types in words, and moments to the second.
    let times = b
        .eval(
            "return [...document.querySelectorAll('section[aria-labelledby=history-title] tbody time')]\
             .map((t) => t.getAttribute('datetime'));",
        )
        .await
        .expect("times");
    let times: Vec<String> = times
        .as_array()
        .expect("times")
        .iter()
        .filter_map(|t| t.as_str().map(str::to_owned))
        .collect();
    assert!(times.len() >= 4, "{times:?}");
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {times:?}"
    );
    b.see("tbody", "Invitation accepted")
        .await
        .expect("types in words");
    let step = b
        .eval("return document.querySelector('input[name=as_of]').getAttribute('step');")
        .await
        .expect("step");
    assert_eq!(step.as_str(), Some("1"), "as of to the second");

    b.choose("Event", "UserInvited").await.expect("filter");
    b.click("Apply filters").await.expect("apply");
    b.until("only invitations listed", || async {
        let text = b
            .find("section[aria-labelledby=history-title] tbody")
            .await?
            .text()
            .await?;
        Ok(text.contains("User invited") && !text.contains("Invitation accepted"))
    })
    .await
    .expect("filtered");

    // The member list a minute from now (local time) holds both members.
    b.eval(
        "const d = new Date(Date.now() + 60000); d.setMinutes(d.getMinutes() - d.getTimezoneOffset()); \
         document.querySelector('input[name=as_of]').value = d.toISOString().slice(0, 16);",
    )
    .await
    .expect("pick a moment");
    b.click("Show members").await.expect("show");
    b.see(".as-of-result", "2 members")
        .await
        .expect("as of now");
    b.see(".as-of-result", "ada@example.com")
        .await
        .expect("Ada then");
    // …and a year ago, nobody.
    b.eval("document.querySelector('input[name=as_of]').value = '2025-01-01T00:00';")
        .await
        .expect("pick a moment");
    b.click("Show members").await.expect("show");
    b.see(".as-of-result", "0 members")
        .await
        .expect("as of then");
    b.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forgotten_password_is_reset_from_the_emailed_link_and_then_changed_in_settings() {
    let server = TestServer::start().await.expect("server");
    server.org_with_owner(ShapeArg::Single, OWNER, vec![]).await;
    let b = Browser::open(&server.base, 390).await.expect("browser");
    b.goto("/sign-in").await.expect("sign-in");
    b.click("Forgot password?").await.expect("forgot");
    b.fill("Email", OWNER).await.expect("email");
    b.click("Email me a reset link").await.expect("ask");
    b.see("h1", "Check your email")
        .await
        .expect("same answer for all");

    server.drain().await;
    let mail = server
        .sink
        .messages()
        .into_iter()
        .rev()
        .find(|m| m.to.iter().any(|t| t.contains(OWNER)) && m.data.contains("reset-password"))
        .expect("a reset email");
    let body = mail.data.replace("=\r\n", "").replace("=3D", "=");
    let at = body.find("/reset-password/").expect("link");
    let path: String = body[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_'))
        .collect();
    b.goto(&path).await.expect("reset page");
    b.see("h1", "Set a new password").await.expect("page");
    let new_password = "a brand new passphrase";
    b.fill("New password", new_password).await.expect("pw");
    b.fill("Repeat the new password", new_password)
        .await
        .expect("pw");
    b.click("Set password").await.expect("set");
    b.see(".toast", "Your password is set")
        .await
        .expect("banner");
    b.sign_in(OWNER, new_password)
        .await
        .expect("new password works");

    // Settings: the current password is required, then the new one is checked.
    b.goto("/account").await.expect("account");
    b.fill("Current password", "wrong password!!")
        .await
        .expect("pw");
    b.fill("New password", PASSWORD).await.expect("pw");
    b.fill("Repeat the new password", PASSWORD)
        .await
        .expect("pw");
    b.click("Change password").await.expect("change");
    b.see(".field-error", "This is not your current password.")
        .await
        .expect("wrong current password refused, in a sentence");
    b.fill("Current password", new_password).await.expect("pw");
    b.click("Change password").await.expect("change");
    b.see(".toast", "Your password is changed")
        .await
        .expect("changed");
    b.sign_out().await.expect("out");
    b.sign_in(OWNER, PASSWORD).await.expect("changed back");
    b.close().await.expect("close");
}

/// Item 1 of #23: the page follows the organization's events. An owner's page
/// shows what another owner does over the API, and the email's delivery, without
/// a reload; the activity page shows new events at the top.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_page_follows_another_owners_changes_and_the_delivery_without_reloading() {
    let server = TestServer::start().await.expect("server");
    let (org, session, _) = server.org_with_owner(ShapeArg::Single, OWNER, vec![]).await;
    let (_, other_owner, _) = server
        .member(
            org,
            &session,
            "otto@example.com",
            serde_json::json!({ "role": "owner" }),
        )
        .await;
    let b = Browser::open(&server.base, 1280).await.expect("browser");
    b.sign_in(OWNER, PASSWORD).await.expect("signed in");
    open_user_management(&b).await.expect("user management");
    b.tab("Pending").await.expect("pending tab");
    b.see(".empty", "No pending invitations")
        .await
        .expect("nothing pending yet");
    // Marks the document: a reload would lose the mark.
    b.eval("window.__stayed = true; return true;")
        .await
        .expect("mark");
    let pending = "section[aria-labelledby=invites-title] tbody";

    // The other owner invites: the row appears, "Sending" until the email goes.
    let invitation = server
        .invite(
            org,
            &other_owner,
            serde_json::json!({ "email": "lou@example.com", "full_name": "Lou Live", "role": "standard" }),
        )
        .await;
    b.see(pending, "lou@example.com")
        .await
        .expect("the invitation appears");
    b.see("#invites-title", "Pending (1)")
        .await
        .expect("the tab counts it");
    b.see(pending, "Sending").await.expect("not sent yet");
    server.drain().await;
    b.see(pending, "Delivered")
        .await
        .expect("the delivery follows");

    // Accepted elsewhere: it leaves Pending and the new member is listed.
    let link = server.token_of(org, invitation).await;
    let (status, joined) = server.accept_as_new(&link, "Lou Live").await;
    assert_eq!(status, 201, "{joined}");
    b.see(".empty", "No pending invitations")
        .await
        .expect("closed invitations leave Pending");
    b.see("#invites-title", "Pending (0)")
        .await
        .expect("and its count");
    b.tab("Members").await.expect("members tab");
    b.see(
        "section[aria-labelledby=members-title] tbody",
        "lou@example.com",
    )
    .await
    .expect("the new member is listed");

    // The other owner changes Lou's role.
    let user = joined["user_id"].as_str().expect("user");
    let (status, changed) = server
        .call(
            "PATCH",
            &format!("/api/orgs/{org}/members/{user}"),
            Some(&other_owner),
            Some(serde_json::json!({ "role": "admin" })),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    b.see("section[aria-labelledby=members-title] tbody", "Admin")
        .await
        .expect("the new role shows");
    assert_eq!(
        b.eval("return window.__stayed === true;")
            .await
            .expect("mark"),
        serde_json::json!(true),
        "all of it without a reload"
    );

    // Activity: new events arrive at the top.
    b.open_user_menu().await.expect("menu");
    b.click("Activity").await.expect("activity");
    b.see("h1", "Activity").await.expect("page");
    server
        .invite(
            org,
            &other_owner,
            serde_json::json!({ "email": "max@example.com", "full_name": "Max More", "role": "standard" }),
        )
        .await;
    b.see(
        "section[aria-labelledby=history-title] tbody tr:first-child",
        "Max More",
    )
    .await
    .expect("the new event heads the list");
}

//! The page as a team uses it, in Chromium: an invitation's role corrected while
//! another owner watches, a session that ends mid-dialog, accounts added and
//! renamed, members and invitations under tabs with one search, and an
//! invitation opened while signed in as someone else.

use fantoccini::Locator;
use roster::ShapeArg;
use roster_tests::browser::Browser;
use roster_tests::http::{TestServer, PASSWORD};
use serde_json::json;

use crate::web_browser::{banner, open_user_management};

const OLIVE: &str = "olive@example.com";

/// The id of the element that has the focus.
async fn focused_id(b: &Browser) -> String {
    b.eval("return document.activeElement ? (document.activeElement.id || document.activeElement.tagName) : '';")
        .await
        .expect("focus")
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_corrects_an_invitations_role_and_another_owners_open_page_follows() {
    let server = TestServer::start().await.expect("server");
    let (org, olive, _) = server.org_with_owner(ShapeArg::Single, OLIVE, vec![]).await;
    server
        .member(org, &olive, "otto@example.com", json!({ "role": "owner" }))
        .await;
    let invitation = server
        .invite(
            org,
            &olive,
            json!({ "email": "ann@example.com", "full_name": "Ann Apple", "role": "admin" }),
        )
        .await;
    let pending = "section[aria-labelledby=invites-title] tbody";

    // Otto watches the pending invitations in his own browser.
    let otto = Browser::open(&server.base, 1280).await.expect("browser");
    otto.sign_in("otto@example.com", PASSWORD)
        .await
        .expect("otto");
    open_user_management(&otto).await.expect("page");
    otto.tab("Pending").await.expect("tab");
    otto.see(pending, "Admin").await.expect("offered as admin");

    // Olive corrects the role from the invitation's own Edit.
    let b = Browser::open(&server.base, 1280).await.expect("browser");
    b.sign_in(OLIVE, PASSWORD).await.expect("olive");
    open_user_management(&b).await.expect("page");
    b.tab("Pending").await.expect("tab");
    b.labelled("Edit the invitation to Ann Apple")
        .await
        .expect("edit")
        .click()
        .await
        .expect("click");
    b.see("dialog[open] dl.facts", "Admin")
        .await
        .expect("the dialog says what is offered now");
    let save = b.button("Save and send a new link").await.expect("save");
    assert!(
        !save.is_enabled().await.expect("enabled?"),
        "nothing to save until the role differs"
    );
    b.choose("Role", "standard").await.expect("role");
    save.click().await.expect("save");
    banner(&b, "now offers Standard").await.expect("banner");
    b.see(pending, "Standard").await.expect("the row follows");
    otto.see(pending, "Standard")
        .await
        .expect("so does the other owner's page, without a reload");
    assert_eq!(
        server.token_from_email("ann@example.com", 0).await,
        server.token_of(org, invitation).await,
        "the newest email carries the new link"
    );

    // Inviting her again names the role she is offered, and corrects it in one step.
    b.click("+ Invite user").await.expect("invite");
    b.fill("Full name", "Ann Apple").await.expect("name");
    b.fill("Email", "ann@example.com").await.expect("email");
    b.choose("Role", "owner").await.expect("role");
    b.click("Send invitation").await.expect("send");
    b.see("dialog[open] .alert", "as Standard")
        .await
        .expect("the refusal names the role offered");
    assert_eq!(
        focused_id(&b).await,
        "BUTTON",
        "the way out has the focus, not the page's body"
    );
    b.click("Change to Owner and send a new link")
        .await
        .expect("change");
    banner(&b, "now offers Owner").await.expect("banner");
    otto.see(pending, "Owner")
        .await
        .expect("the other page follows");

    // Cancelling takes the row away; the focus stays in the list, not on the body.
    b.labelled("Cancel the invitation to Ann Apple")
        .await
        .expect("cancel")
        .click()
        .await
        .expect("click");
    b.click("Cancel invitation").await.expect("confirm");
    b.see(".empty", "No pending invitations")
        .await
        .expect("gone");
    assert_eq!(focused_id(&b).await, "pending-panel");
    otto.see(".empty", "No pending invitations")
        .await
        .expect("gone on the other page too");
    otto.close().await.expect("close");
    b.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_that_ends_mid_dialog_asks_to_sign_in_again_and_keeps_the_input() {
    let server = TestServer::start().await.expect("server");
    let (org, olive, _) = server.org_with_owner(ShapeArg::Single, OLIVE, vec![]).await;
    let b = Browser::open(&server.base, 1280).await.expect("browser");
    b.sign_in(OLIVE, PASSWORD).await.expect("olive");
    open_user_management(&b).await.expect("page");
    b.click("+ Invite user").await.expect("invite");
    b.fill("Full name", "Kim Kept").await.expect("name");
    b.fill("Email", "kim@example.com").await.expect("email");
    b.choose("Role", "standard").await.expect("role");

    // Olive signs out everywhere from another device meanwhile: the page's
    // live stream ends, and the page asks at once, above the dialog.
    let (status, _) = server
        .call("DELETE", "/api/sessions", Some(&olive), None)
        .await;
    assert_eq!(status, 204);
    b.see("dialog[open] h2", "Sign in again")
        .await
        .expect("asked in place");
    b.fill("Password", PASSWORD).await.expect("password");
    b.click("Sign in").await.expect("sign in");
    b.gone("dialog[open] input[readonly]")
        .await
        .expect("signed in again");
    assert_eq!(
        b.labelled("Full name")
            .await
            .expect("name")
            .prop("value")
            .await
            .expect("value")
            .as_deref(),
        Some("Kim Kept"),
        "the dialog and its input are still there"
    );
    b.click("Send invitation").await.expect("send");
    banner(&b, "Invitation sent to kim@example.com")
        .await
        .expect("the invitation went out once signed in again");
    b.see("section[aria-labelledby=invites-title] tbody", "Kim Kept")
        .await
        .expect("listed");
    let (status, list) = server
        .call(
            "GET",
            &format!("/api/orgs/{org}/invitations"),
            Some(&server.sign_in(OLIVE, PASSWORD).await),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        list["invitations"].as_array().map(Vec::len),
        Some(1),
        "sent once: {list}"
    );

    // Declining to sign in again signs out, and no dialog stays over the sign-in page.
    b.click("+ Invite user").await.expect("invite");
    b.fill("Full name", "Lee Later").await.expect("name");
    server
        .call(
            "DELETE",
            "/api/sessions",
            Some(&server.sign_in(OLIVE, PASSWORD).await),
            None,
        )
        .await;
    b.see("dialog[open] h2", "Sign in again")
        .await
        .expect("asked");
    b.click("Sign out").await.expect("sign out");
    b.see("h1", "Sign in").await.expect("the sign-in page");
    b.gone("dialog[open]").await.expect("no dialog over it");
    b.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_adds_and_renames_accounts_and_then_can_invite_a_contributor() {
    let server = TestServer::start().await.expect("server");
    server.org_with_owner(ShapeArg::Multi, OLIVE, vec![]).await;
    let b = Browser::open(&server.base, 1280).await.expect("browser");
    b.sign_in(OLIVE, PASSWORD).await.expect("olive");
    open_user_management(&b).await.expect("page");
    b.see(".note", "no accounts yet")
        .await
        .expect("the dead end is named, with the way out");
    b.click("+ Add account").await.expect("add");
    b.fill("Account name", "Alpha").await.expect("name");
    b.click("Add account").await.expect("save");
    banner(&b, "Account Alpha added").await.expect("banner");
    b.gone(".note").await.expect("the note goes");
    let accounts = "section[aria-labelledby=accounts-title] tbody";
    b.see(accounts, "Alpha").await.expect("listed");

    b.click("+ Add account").await.expect("add");
    b.fill("Account name", "ALPHA").await.expect("name");
    b.click("Add account").await.expect("save");
    b.see("dialog[open] .field-error", "already called")
        .await
        .expect("a taken name is refused at the field");
    b.fill("Account name", "Beta").await.expect("name");
    b.click("Add account").await.expect("save");
    b.see(accounts, "Beta").await.expect("listed");

    b.labelled("Rename Alpha")
        .await
        .expect("rename")
        .click()
        .await
        .expect("click");
    b.fill("Account name", "Alpha Europe").await.expect("name");
    b.click("Rename").await.expect("save");
    banner(&b, "Alpha is now called Alpha Europe")
        .await
        .expect("banner");
    b.see(accounts, "Alpha Europe").await.expect("renamed");

    // A contributor can now be invited to the renamed account.
    b.click("+ Invite user").await.expect("invite");
    b.fill("Full name", "Carl").await.expect("name");
    b.fill("Email", "carl@example.com").await.expect("email");
    b.choose("Organization role", "contributor")
        .await
        .expect("org role");
    b.labelled("Alpha Europe")
        .await
        .expect("the account under its new name")
        .click()
        .await
        .expect("check");
    b.click("Send invitation").await.expect("send");
    banner(&b, "Invitation sent to carl@example.com")
        .await
        .expect("sent");
    b.see(
        "section[aria-labelledby=invites-title] tbody",
        "Contributor · Alpha Europe: Standard",
    )
    .await
    .expect("pending, with the account's name");
    b.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tabs_count_members_pending_and_expired_and_one_search_finds_them_all() {
    let server = TestServer::start().await.expect("server");
    let (org, olive, _) = server.org_with_owner(ShapeArg::Single, OLIVE, vec![]).await;
    server
        .member(
            org,
            &olive,
            "zed@example.com",
            json!({ "role": "standard" }),
        )
        .await;
    let invite = |email: &'static str, name: &'static str| {
        let olive = olive.clone();
        let server = &server;
        async move {
            server
                .invite(
                    org,
                    &olive,
                    json!({ "email": email, "full_name": name, "role": "standard" }),
                )
                .await
        }
    };
    invite("cy@example.com", "Cy Cherry").await;
    server.clock.advance(chrono::Duration::minutes(16));
    server.drain().await;
    invite("bob@example.com", "Bob Berry").await;
    server.clock.advance(chrono::Duration::seconds(1));
    invite("ann@example.com", "Ann Apple").await;

    let b = Browser::open(&server.base, 1280).await.expect("browser");
    b.sign_in(OLIVE, PASSWORD).await.expect("olive");
    open_user_management(&b).await.expect("page");
    b.see("#members-title", "Members (2)")
        .await
        .expect("members");
    b.see("#invites-title", "Pending (2)")
        .await
        .expect("pending");
    b.see("#expired-title", "Expired (1)")
        .await
        .expect("expired");
    b.tab("Expired").await.expect("tab");
    b.see("section[aria-labelledby=expired-title] tbody", "Cy Cherry")
        .await
        .expect("the expired one, apart");

    // One search narrows members and invitations alike.
    b.tab("Members").await.expect("tab");
    b.fill("Search people", "berry").await.expect("search");
    b.see(
        "section[aria-labelledby=members-title] .empty",
        "1 invitation does",
    )
    .await
    .expect("the member search points to the invitation it found");
    b.see("#invites-title", "Pending (1)")
        .await
        .expect("narrowed");
    b.see("#expired-title", "Expired (0)")
        .await
        .expect("narrowed");
    b.fill("Search people", "").await.expect("clear");
    b.see("#invites-title", "Pending (2)")
        .await
        .expect("all again");

    // Invitations sort by the newest send, or by name.
    b.tab("Pending").await.expect("tab");
    let first = "section[aria-labelledby=invites-title] tbody tr:first-child";
    b.see(first, "Ann Apple").await.expect("newest first");
    b.choose("Sort invitations", "name").await.expect("sort");
    b.see(first, "Ann Apple").await.expect("by name");
    b.choose("Sort invitations", "email").await.expect("sort");
    b.see(first, "ann@example.com").await.expect("by email");
    b.choose("Sort invitations", "expiry").await.expect("sort");
    b.see(first, "Bob Berry").await.expect("expiring soonest");

    // The arrow keys move between tabs.
    b.client
        .find(Locator::Id("invites-title"))
        .await
        .expect("tab")
        .send_keys(&String::from(char::from(fantoccini::key::Key::Right)))
        .await
        .expect("key");
    b.see("section[aria-labelledby=expired-title] tbody", "Cy Cherry")
        .await
        .expect("the next tab shows");
    assert_eq!(focused_id(&b).await, "expired-title");
    b.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitation_opened_while_signed_in_as_someone_else_says_so_first_and_offers_to_sign_out()
{
    let server = TestServer::start().await.expect("server");
    let (org, olive, _) = server.org_with_owner(ShapeArg::Single, OLIVE, vec![]).await;
    let invitation = server
        .invite(
            org,
            &olive,
            json!({ "email": "nia@example.com", "full_name": "Nia New", "role": "standard" }),
        )
        .await;
    let token = server.token_of(org, invitation).await;
    let b = Browser::open(&server.base, 1280).await.expect("browser");
    b.sign_in(OLIVE, PASSWORD).await.expect("olive");
    b.goto(&format!("/invitations/{token}"))
        .await
        .expect("link");
    b.see(".note", "signed in as olive@example.com")
        .await
        .expect("said before anything is typed");
    assert!(
        !b.shows("input[type=password]").await.expect("shows?"),
        "no password is asked for while it cannot work"
    );
    b.click("Sign out and continue as nia@example.com")
        .await
        .expect("sign out");
    b.see("h2", "Set up your account")
        .await
        .expect("the invitee's own form");
    b.fill("Choose a password", PASSWORD).await.expect("pw");
    b.fill("Repeat the password", PASSWORD).await.expect("pw");
    b.click("Accept invitation").await.expect("accept");
    b.see("h1", "Your organizations").await.expect("joined");
    b.see(".user-menu-name", "Nia New")
        .await
        .expect("signed in as the invitee");
    b.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_invites_many_from_a_csv_file_or_a_pasted_list_with_every_row_checked_first() {
    let server = TestServer::start().await.expect("server");
    let (org, olive, _) = server.org_with_owner(ShapeArg::Single, OLIVE, vec![]).await;
    server
        .invite(
            org,
            &olive,
            json!({ "email": "ann@example.com", "full_name": "Ann Apple", "role": "admin" }),
        )
        .await;
    let b = Browser::open(&server.base, 1280).await.expect("browser");
    b.sign_in(OLIVE, PASSWORD).await.expect("olive");
    open_user_management(&b).await.expect("page");
    b.click("Invite many").await.expect("open");

    // A CSV file, header and quoted commas included, fills the list.
    let csv = std::env::temp_dir().join(format!(
        "roster-people-{}.csv",
        uuid::Uuid::now_v7().simple()
    ));
    std::fs::write(
        &csv,
        "name,email,role\r\n\"Roe, Dee\",dee@example.com,standard\r\nEve Early,eve@example.com,owner\r\n",
    )
    .expect("csv");
    b.labelled("Or choose a CSV file")
        .await
        .expect("file")
        .send_keys(&csv.display().to_string())
        .await
        .expect("choose");
    b.see("dialog[open] .bulk-preview", "Roe, Dee")
        .await
        .expect("the file's rows, quoted comma kept");
    b.see("dialog[open]", "2 of 2 rows are ready")
        .await
        .expect("all ready");

    // A pasted list: every row checked before anything is sent.
    b.fill(
        "People",
        "Bea Bold, bea@example.com, standard\nCal Calm, cal@example.com\nBad Row, not-an-email, admin\nAnn Apple, ann@example.com, admin\nBea Again, bea@example.com, admin",
    )
    .await
    .expect("paste");
    let preview = "dialog[open] .bulk-preview";
    b.see(preview, "no role").await.expect("Cal names no role");
    b.see(preview, "is not an email address")
        .await
        .expect("bad address");
    b.see(preview, "Skipped: already invited as Admin")
        .await
        .expect("Ann is invited already");
    b.see(preview, "repeats an earlier row")
        .await
        .expect("Bea twice");
    b.see("dialog[open]", "1 of 5 rows are ready")
        .await
        .expect("summary");

    // A role for rows that name none makes Cal ready too.
    b.client
        .find(Locator::Css("dialog[open] details.fallback-role summary"))
        .await
        .expect("details")
        .click()
        .await
        .expect("open");
    b.choose("Role", "standard").await.expect("fallback role");
    b.see("dialog[open]", "2 of 5 rows are ready")
        .await
        .expect("summary");
    b.click("Send 2 invitations").await.expect("send");
    b.see(preview, "✓ Invited").await.expect("outcomes per row");
    b.see("dialog[open]", "2 of 2 invited.")
        .await
        .expect("summary of the outcome");
    b.see(".toast", "2 invitations sent").await.expect("banner");
    b.click("Done").await.expect("done");
    let pending = "section[aria-labelledby=invites-title] tbody";
    b.see(pending, "Bea Bold").await.expect("listed");
    b.see(pending, "Cal Calm").await.expect("listed");
    b.see("#invites-title", "Pending (3)").await.expect("count");
    let _ = std::fs::remove_file(&csv);
    b.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_creates_an_api_key_sees_it_once_and_revokes_it() {
    let server = TestServer::start().await.expect("server");
    let (org, _, _) = server.org_with_owner(ShapeArg::Single, OLIVE, vec![]).await;
    let b = Browser::open(&server.base, 1280).await.expect("browser");
    b.sign_in(OLIVE, PASSWORD).await.expect("olive");
    b.open_user_menu().await.expect("menu");
    b.click("API keys").await.expect("page");
    b.see("h1", "API keys").await.expect("page");
    b.see(".empty", "No API keys yet").await.expect("none yet");

    b.click("+ Create API key").await.expect("create");
    b.fill("Name", "HR system").await.expect("name");
    b.click("Create key").await.expect("create");
    b.see("dialog[open] .field-error", "at least one scope")
        .await
        .expect("a scope is needed");
    b.find("dialog[open] input[value=read]")
        .await
        .expect("read")
        .click()
        .await
        .expect("check");
    b.find("dialog[open] input[value=manage]")
        .await
        .expect("manage")
        .click()
        .await
        .expect("check");
    b.click("Create key").await.expect("create");
    b.see("dialog[open] .note", "will never show it again")
        .await
        .expect("shown once, said so");
    let key = b
        .labelled("Key")
        .await
        .expect("key field")
        .prop("value")
        .await
        .expect("value")
        .expect("a key");
    assert!(key.starts_with("rst_"), "{key}");
    b.click("Done").await.expect("done");
    let rows = "section[aria-labelledby=keys-title] tbody";
    b.see(rows, "HR system").await.expect("listed");
    b.see(rows, &format!("{}…", &key[..12]))
        .await
        .expect("by its first characters");
    b.see(rows, "Read, Manage").await.expect("scopes");
    b.see(rows, "Active").await.expect("state");
    assert!(
        !b.page_text().await.expect("text").contains(&key[12..]),
        "the secret is not on the page any more"
    );

    // The key works, and shows as used.
    let members = format!("{}/api/orgs/{org}/members", server.base);
    let used = server
        .http
        .get(&members)
        .bearer_auth(&key)
        .send()
        .await
        .expect("call");
    assert_eq!(used.status(), 200);
    b.goto(&format!("/orgs/{org}/api-keys"))
        .await
        .expect("reload");
    b.see(rows, "HR system").await.expect("listed");
    assert!(
        !b.page_text().await.expect("text").contains("Not yet"),
        "its last use shows"
    );

    // Revoked: refused at once, and listed as revoked.
    b.click("Revoke").await.expect("revoke");
    b.see("dialog[open]", "cannot be undone")
        .await
        .expect("confirm");
    b.click("Revoke key").await.expect("confirm");
    b.see(rows, "Revoked").await.expect("revoked");
    let refused = server
        .http
        .get(&members)
        .bearer_auth(&key)
        .send()
        .await
        .expect("call");
    assert_eq!(refused.status(), 401);
    b.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_sets_up_directory_sync_and_sees_its_last_sync_and_refusals() {
    let server = TestServer::start().await.expect("server");
    let (org, _, _) = server.org_with_owner(ShapeArg::Single, OLIVE, vec![]).await;
    let b = Browser::open(&server.base, 1280).await.expect("browser");
    b.sign_in(OLIVE, PASSWORD).await.expect("olive");
    b.goto(&format!("/orgs/{org}/api-keys"))
        .await
        .expect("page");
    let sync = "section[aria-labelledby=sync-title]";
    b.see(sync, "/scim/v2")
        .await
        .expect("the endpoint to give the provider");
    b.see(sync, "No directory sync key yet")
        .await
        .expect("not set up");
    b.click("+ Create a directory sync key")
        .await
        .expect("set up");
    assert_eq!(
        b.labelled("Name")
            .await
            .expect("name")
            .prop("value")
            .await
            .expect("value")
            .as_deref(),
        Some("Directory sync")
    );
    b.click("Create key").await.expect("create");
    let key = b
        .labelled("Key")
        .await
        .expect("key")
        .prop("value")
        .await
        .expect("value")
        .expect("a key");
    b.click("Done").await.expect("done");
    b.see(sync, "Not yet").await.expect("a key, not used yet");

    // The provider syncs, and once sends a filter Roster refuses.
    for query in ["", "?filter=userName%20zz%20%22x%22"] {
        server
            .http
            .get(format!("{}/scim/v2/Users{query}", server.base))
            .bearer_auth(&key)
            .send()
            .await
            .expect("scim");
    }
    b.goto(&format!("/orgs/{org}/api-keys"))
        .await
        .expect("reload");
    b.see(sync, "GET /scim/v2/Users")
        .await
        .expect("the refused request");
    b.see(sync, "is not an operator").await.expect("and why");
    let text = b
        .find(sync)
        .await
        .expect("section")
        .text()
        .await
        .expect("text");
    assert!(!text.contains("Not yet"), "the last sync shows: {text}");
    b.close().await.expect("close");
}

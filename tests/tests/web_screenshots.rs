//! PNG screenshots of every page and dialog of the web page at 1280 and 390 pixels
//! wide, for people to review. Run by `scripts/screenshots` (ignored in the suite:
//! it asserts nothing the browser tests do not, it only draws).

use std::path::PathBuf;

use roster::ShapeArg;
use roster_tests::browser::Browser;
use roster_tests::http::{TestServer, PASSWORD};
use serde_json::json;

const WIDTHS: [u32; 2] = [1280, 390];

fn out_dir() -> PathBuf {
    std::env::var_os("ROSTER_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots"))
}

/// Saves the whole page (the window grown to its height) as `<name>-<width>.png`.
async fn shot(b: &Browser, width: u32, name: &str) -> anyhow::Result<()> {
    // Let banners and transitions settle into what a person sees.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let height = b
        .eval("return Math.max(document.documentElement.scrollHeight, 700)")
        .await?
        .as_u64()
        .unwrap_or(900);
    let height = u32::try_from(height.min(4000)).unwrap_or(900);
    b.resize_to(width, height).await?;
    b.screenshot(&out_dir().join(format!("{name}-{width}.png")))
        .await?;
    b.resize_to(width, 900).await?;
    Ok(())
}

/// Invites `name` with `role` fields and accepts as them.
async fn join(
    server: &TestServer,
    org: roster_domain::OrgId,
    owner: &str,
    email: &str,
    name: &str,
    role: serde_json::Value,
) {
    let mut body = json!({ "email": email, "full_name": name });
    if let (Some(b), Some(r)) = (body.as_object_mut(), role.as_object()) {
        b.extend(r.clone());
    }
    let invitation = server.invite(org, owner, body).await;
    let token = server.token_of(org, invitation).await;
    let (status, joined) = server.accept_as_new(&token, name).await;
    assert_eq!(status, 201, "{joined}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "draws PNGs for review; run scripts/screenshots"]
async fn every_page_and_dialog_at_both_widths() {
    let server = TestServer::start().await.expect("server");
    let owner = "olive@example.com";
    let (org, session, _) = server.org_with_owner(ShapeArg::Single, owner, vec![]).await;
    // Organizations are founded before the clock moves (the operator's bootstrap
    // dates its link by the wall clock).
    let (multi, multi_session, _) = server
        .org_with_owner(
            ShapeArg::Multi,
            "mona@example.com",
            vec!["Alpha".into(), "Beta".into(), "Gamma".into()],
        )
        .await;
    let accounts = server
        .call(
            "GET",
            &format!("/api/orgs/{multi}/accounts"),
            Some(&multi_session),
            None,
        )
        .await
        .1;
    let beta = accounts["accounts"][1]["account_id"].clone();
    join(
        &server,
        multi,
        &multi_session,
        "carl@example.com",
        "Carl Contributor",
        json!({ "org_role": "contributor", "accounts": [{ "account_id": beta, "role": "admin" }] }),
    )
    .await;
    // An invitation left to expire.
    server
        .invite(
            org,
            &session,
            json!({ "email": "olga@example.com", "full_name": "Olga Old", "role": "standard" }),
        )
        .await;
    server.clock.advance(chrono::Duration::minutes(16));
    server.drain().await;
    for (email, name, role) in [
        ("ada@example.com", "Ada Lovelace", "admin"),
        ("grace@example.com", "Grace Hopper", "standard"),
        ("alan@example.com", "Alan Turing", "standard"),
    ] {
        join(&server, org, &session, email, name, json!({ "role": role })).await;
    }
    // One whose first link a resend replaced.
    let rita = server
        .invite(
            org,
            &session,
            json!({ "email": "rita@example.com", "full_name": "Rita Resent", "role": "admin" }),
        )
        .await;
    let replaced_token = server.token_of(org, rita).await;
    server.clock.advance(chrono::Duration::seconds(61));
    let (status, _) = server
        .call(
            "POST",
            &format!("/api/orgs/{org}/invitations/{rita}/resend"),
            Some(&session),
            None,
        )
        .await;
    assert_eq!(status, 200);
    for (email, name, role) in [
        ("katherine@example.com", "Katherine Johnson", "admin"),
        ("edsger@example.com", "Edsger Dijkstra", "standard"),
    ] {
        server
            .invite(
                org,
                &session,
                json!({ "email": email, "full_name": name, "role": role }),
            )
            .await;
    }
    server.drain().await;
    let fresh = server
        .invite(
            org,
            &session,
            json!({ "email": "new@example.com", "full_name": "Nora New", "role": "standard" }),
        )
        .await;
    let fresh_token = server.token_of(org, fresh).await;
    server.drain().await;

    for width in WIDTHS {
        let b = Browser::open(&server.base, width).await.expect("browser");
        b.goto("/sign-in").await.expect("sign-in");
        b.see("h1", "Sign in").await.expect("page");
        shot(&b, width, "01-sign-in").await.expect("shot");
        b.goto("/forgot-password").await.expect("forgot");
        b.see("h1", "Forgot").await.expect("page");
        shot(&b, width, "02-forgot-password").await.expect("shot");
        b.goto(&format!("/invitations/{fresh_token}"))
            .await
            .expect("accept");
        b.see("h1", "Join").await.expect("page");
        shot(&b, width, "03-accept-invitation").await.expect("shot");
        b.goto("/invitations/not-a-token").await.expect("bad link");
        b.see("h1", "does not work").await.expect("page");
        shot(&b, width, "04-accept-invalid-link")
            .await
            .expect("shot");
        b.goto(&format!("/invitations/{replaced_token}"))
            .await
            .expect("replaced link");
        b.see("h1", "replaced").await.expect("page");
        shot(&b, width, "04b-accept-link-replaced")
            .await
            .expect("shot");

        b.sign_in(owner, PASSWORD).await.expect("signed in");
        shot(&b, width, "05-home-owner").await.expect("shot");
        b.open_user_menu().await.expect("menu");
        shot(&b, width, "06-user-menu").await.expect("shot");
        b.goto(&format!("/orgs/{org}/users")).await.expect("users");
        b.see("tbody", "Ada").await.expect("page");
        shot(&b, width, "07-user-management").await.expect("shot");
        b.tab("Pending").await.expect("tab");
        b.see("tbody", "Katherine").await.expect("pending");
        shot(&b, width, "07b-pending-tab").await.expect("shot");
        b.click("+ Invite user").await.expect("invite");
        b.fill("Full name", "Barbara Liskov").await.expect("name");
        b.fill("Email", "barbara@").await.expect("email");
        b.labelled("Full name")
            .await
            .expect("name")
            .click()
            .await
            .expect("blur");
        shot(&b, width, "08-invite-dialog-errors")
            .await
            .expect("shot");
        b.fill("Email", "katherine@example.com")
            .await
            .expect("email");
        b.choose("Role", "admin").await.expect("role");
        b.click("Send invitation").await.expect("send");
        b.see("dialog[open] .alert", "already")
            .await
            .expect("refusal");
        shot(&b, width, "09-invite-dialog-already-invited")
            .await
            .expect("shot");
        b.click("Cancel").await.expect("close");
        b.click("+ Invite user").await.expect("invite");
        b.fill("Full name", "Barbara Liskov").await.expect("name");
        b.fill("Email", &format!("barbara{width}@example.com"))
            .await
            .expect("email");
        b.choose("Role", "standard").await.expect("role");
        b.click("Send invitation").await.expect("send");
        b.see(".toast", "Invitation sent").await.expect("banner");
        shot(&b, width, "10-success-banner").await.expect("shot");
        b.labelled("Edit the invitation to Katherine Johnson")
            .await
            .expect("edit invitation")
            .click()
            .await
            .expect("click");
        b.choose("Role", "standard").await.expect("role");
        shot(&b, width, "10b-invitation-edit-dialog")
            .await
            .expect("shot");
        b.click("Cancel").await.expect("close");
        b.tab("Expired").await.expect("tab");
        b.see("section[aria-labelledby=expired-title] tbody", "Olga")
            .await
            .expect("expired");
        shot(&b, width, "10c-expired-tab").await.expect("shot");
        b.tab("Pending").await.expect("tab");
        b.click("Invite many").await.expect("bulk");
        b.fill(
            "People",
            &format!("name,email,role\nMary Jackson, mary{width}@example.com, standard\nDorothy Vaughan, dorothy{width}@example.com, admin\nNo Address, nowhere, admin\nKatherine Johnson, katherine@example.com, admin"),
        )
        .await
        .expect("list");
        b.see("dialog[open]", "2 of 4 rows").await.expect("preview");
        shot(&b, width, "10d-bulk-invite-preview")
            .await
            .expect("shot");
        b.click("Send 2 invitations").await.expect("send");
        b.see("dialog[open]", "2 of 2 invited").await.expect("sent");
        shot(&b, width, "10e-bulk-invite-outcome")
            .await
            .expect("shot");
        b.click("Done").await.expect("done");
        b.tab("Members").await.expect("tab");
        b.click("Edit").await.expect("edit self");
        shot(&b, width, "11-edit-dialog-last-owner")
            .await
            .expect("shot");
        b.click("Cancel").await.expect("close");
        let edit = b
            .client
            .find(fantoccini::Locator::Css(
                "button[aria-label='Edit Ada Lovelace']",
            ))
            .await
            .expect("edit Ada");
        edit.click().await.expect("edit");
        b.choose("Role", "standard").await.expect("role");
        shot(&b, width, "12-edit-dialog").await.expect("shot");
        b.click("Delete user").await.expect("delete");
        shot(&b, width, "13-delete-confirmation")
            .await
            .expect("shot");
        b.click("Keep member").await.expect("keep");
        b.click("Cancel").await.expect("close");
        b.tab("Pending").await.expect("tab");
        b.click("Cancel").await.expect("cancel invite");
        shot(&b, width, "14-cancel-invitation-confirmation")
            .await
            .expect("shot");
        b.click("Keep").await.expect("keep");
        b.goto(&format!("/orgs/{org}/activity"))
            .await
            .expect("activity");
        b.see("tbody", "invited").await.expect("page");
        shot(&b, width, "15-activity").await.expect("shot");
        b.goto(&format!("/orgs/{org}/api-keys"))
            .await
            .expect("keys");
        b.see("h1", "API keys").await.expect("page");
        b.click("+ Create API key").await.expect("create");
        b.fill("Name", &format!("HR system {width}"))
            .await
            .expect("name");
        b.find("dialog[open] input[value=read]")
            .await
            .expect("read")
            .click()
            .await
            .expect("check");
        shot(&b, width, "15b-create-api-key").await.expect("shot");
        b.click("Create key").await.expect("create");
        b.see("dialog[open] .note", "never show it again")
            .await
            .expect("shown");
        shot(&b, width, "15c-api-key-shown-once")
            .await
            .expect("shot");
        b.click("Done").await.expect("done");
        b.see("tbody", &format!("HR system {width}"))
            .await
            .expect("listed");
        shot(&b, width, "15d-api-keys").await.expect("shot");
        b.goto("/account").await.expect("account");
        b.see("h1", "Account settings").await.expect("page");
        shot(&b, width, "16-account").await.expect("shot");
        b.sign_out().await.expect("out");

        b.sign_in("mona@example.com", PASSWORD)
            .await
            .expect("signed in");
        b.goto(&format!("/orgs/{multi}/users"))
            .await
            .expect("users");
        b.see("tbody", "Carl").await.expect("page");
        shot(&b, width, "17-user-management-multi-account")
            .await
            .expect("shot");
        b.click("+ Invite user").await.expect("invite");
        b.fill("Full name", "Dana Developer").await.expect("name");
        b.fill("Email", "dana@example.com").await.expect("email");
        b.choose("Organization role", "contributor")
            .await
            .expect("role");
        b.labelled("Alpha")
            .await
            .expect("Alpha")
            .click()
            .await
            .expect("check");
        b.choose("Role on Alpha", "admin").await.expect("role");
        shot(&b, width, "18-invite-dialog-multi-account")
            .await
            .expect("shot");
        b.click("Cancel").await.expect("close");
        b.labelled("Rename Gamma")
            .await
            .expect("rename")
            .click()
            .await
            .expect("click");
        b.fill("Account name", "Alpha").await.expect("name");
        b.click("Rename").await.expect("save");
        b.see("dialog[open] .field-error", "already called")
            .await
            .expect("taken");
        shot(&b, width, "18b-rename-account-taken")
            .await
            .expect("shot");
        b.click("Cancel").await.expect("close");
        // The session ends (signed out everywhere) with a dialog open.
        b.click("+ Invite user").await.expect("invite");
        b.fill("Full name", "Dana Developer").await.expect("name");
        let other = server.sign_in("mona@example.com", PASSWORD).await;
        server
            .call("DELETE", "/api/sessions", Some(&other), None)
            .await;
        b.see("dialog[open] h2", "Sign in again")
            .await
            .expect("asked");
        shot(&b, width, "18c-sign-in-again").await.expect("shot");
        b.fill("Password", PASSWORD).await.expect("password");
        b.click("Sign in").await.expect("sign in");
        b.gone("dialog[open] input[readonly]")
            .await
            .expect("signed in");
        b.click("Cancel").await.expect("close");
        b.goto(&format!("/invitations/{fresh_token}"))
            .await
            .expect("someone else's link");
        b.see(".note", "signed in as").await.expect("warned");
        shot(&b, width, "18d-accept-while-signed-in-as-someone-else")
            .await
            .expect("shot");
        b.goto("/").await.expect("home");
        b.sign_out().await.expect("out");

        b.sign_in("carl@example.com", PASSWORD)
            .await
            .expect("signed in");
        b.see(".org-card", "Beta").await.expect("home");
        shot(&b, width, "19-home-contributor").await.expect("shot");
        b.close().await.expect("close");
    }
    println!("screenshots written to {}", out_dir().display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "draws PNGs for review; run scripts/screenshots"]
async fn single_sign_on_pages_at_both_widths() {
    let server = TestServer::start_with(roster_tests::Backend::Postgres, |a| {
        a.sso_allow_http = true;
    })
    .await
    .expect("server");
    let (org, olive, _) = server
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let provider = roster_tests::oidc::ScriptedProvider::start("olive@acme.io")
        .await
        .expect("provider");
    for width in WIDTHS {
        let b = Browser::open(&server.base, width).await.expect("browser");
        b.sign_in("olive@acme.io", PASSWORD).await.expect("in");
        b.goto(&format!("/orgs/{org}/sso")).await.expect("page");
        b.see("h1", "Single sign-on").await.expect("page");
        shot(&b, width, "20-sso-not-connected").await.expect("shot");
        let (status, _) = server
            .call(
                "PUT",
                &format!("/api/orgs/{org}/sso"),
                Some(&olive),
                Some(json!({
                    "issuer": provider.issuer, "client_id": "roster", "client_secret": "s",
                    "domains": ["acme.io"], "join_role": { "role": "standard" },
                })),
            )
            .await;
        assert!(status == 200 || width != WIDTHS[0]);
        server.drain().await;
        b.goto(&format!("/orgs/{org}/sso")).await.expect("page");
        b.see(".sso-status", "Connected").await.expect("connected");
        shot(&b, width, "20b-sso-connected").await.expect("shot");
        b.sign_out().await.expect("out");
        b.fill("Email", "olive@acme.io").await.expect("email");
        b.click("Continue").await.expect("continue");
        b.see("p.note", "single sign-on").await.expect("offered");
        shot(&b, width, "20c-sign-in-with-sso").await.expect("shot");
        b.goto("/sign-in?sso_error=sso-not-a-member")
            .await
            .expect("refused");
        shot(&b, width, "20d-sso-refused").await.expect("shot");
        b.goto("/sign-in?sso_confirm=ann%40acme.io&organization=Acme")
            .await
            .expect("confirm");
        b.see("h1", "Confirm it").await.expect("confirm");
        shot(&b, width, "20e-sso-confirm-password")
            .await
            .expect("shot");
        let invitation = server
            .invite(
                org,
                &olive,
                json!({ "email": format!("bob{width}@acme.io"), "full_name": "Bob", "role": "admin" }),
            )
            .await;
        let token = server.token_of(org, invitation).await;
        b.goto(&format!("/invitations/{token}"))
            .await
            .expect("link");
        b.see("button", "Accept with single sign-on")
            .await
            .expect("offered");
        shot(&b, width, "20f-accept-with-sso").await.expect("shot");
        b.close().await.expect("close");
    }
}

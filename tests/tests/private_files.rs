//! What the embedded default writes to disk holds secrets (password hashes,
//! session digests, live accept links): only its owner may read it.

use lettre::message::Mailbox;
use lettre::Message;
use roster::Database;
use roster_workers::mailer::private::is_loose;
use roster_workers::Mailer;

fn scratch(name: &str) -> std::path::PathBuf {
    std::env::temp_dir()
        .join("roster-tests")
        .join(format!("{name}-{}", uuid::Uuid::now_v7().simple()))
}

#[tokio::test]
async fn the_embedded_database_and_its_folder_are_owner_only() {
    let dir = scratch("private-db");
    let file = dir.join("data").join("roster.db");
    let database = Database::connect(&format!("sqlite://{}", file.display()))
        .await
        .expect("database");
    database.migrate().await.expect("migrate");
    assert!(file.exists());
    assert!(!is_loose(&file), "the database file");
    assert!(!is_loose(file.parent().expect("folder")), "its folder");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn outbox_emails_are_owner_only() {
    let dir = scratch("private-outbox").join("outbox");
    let mailer = Mailer::new(None, dir.clone()).expect("outbox");
    let from: Mailbox = "Roster <roster@localhost>".parse().expect("from");
    let message = Message::builder()
        .from(from.clone())
        .to(from)
        .subject("link")
        .body("https://portal.example/invitations/secret".to_owned())
        .expect("message");
    mailer.send(message, "invitation-1").await.expect("written");
    assert!(!is_loose(&dir.join("invitation-1.eml")), "the email");
    assert!(!is_loose(&dir), "the outbox folder");
    let _ = std::fs::remove_dir_all(dir.parent().expect("scratch"));
}

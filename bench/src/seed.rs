//! Large data sets, made by the domain's own `decide`/`evolve` (so every event is
//! one the rules allow) and written in big appends — never one request per event.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use roster_commands::identity::sessions;
use roster_domain::organization::{decide, evolve, Actor, Context, Envelope, OrgCommand};
use roster_domain::organization::{OrgEvent, Organization};
use roster_domain::*;
use roster_eventstore::{EventStore, ExpectedVersion, Metadata, NewEvent, StreamId};
use roster_storage::Db;
use uuid::Uuid;

/// Events per append while seeding.
const CHUNK: usize = 2_000;

/// One organization's events, decided in memory.
pub struct OrgSeed {
    /// The organization.
    pub org: OrgId,
    /// Its first owner.
    pub owner: UserId,
    /// Its members other than the owner, in the order they joined.
    pub members: Vec<UserId>,
    state: Option<Organization>,
    /// Everything decided so far.
    pub events: Vec<OrgEvent>,
    ctx: Context,
    people: usize,
}

impl OrgSeed {
    /// A single-account organization with its owner signed up.
    pub fn new(ctx: Context) -> anyhow::Result<Self> {
        let mut seed = Self {
            org: OrgId::from_uuid(Uuid::now_v7()),
            owner: UserId::from_uuid(Uuid::now_v7()),
            members: Vec::new(),
            state: None,
            events: Vec::new(),
            ctx,
            people: 0,
        };
        let org_id = seed.org;
        seed.run(
            Actor::System,
            OrgCommand::CreateOrganization {
                org_id,
                name: DisplayName::parse("Bench Org")?,
                shape: OrgShape::Single,
                accounts: vec![],
            },
        )?;
        let owner = seed.owner;
        seed.join(owner, SingleRole::Owner)?;
        Ok(seed)
    }

    fn run(&mut self, actor: Actor, command: OrgCommand) -> anyhow::Result<()> {
        let new = decide(self.state.as_ref(), &Envelope { actor, command }, &self.ctx)?;
        for e in &new {
            self.state = evolve(self.state.take(), e);
        }
        self.events.extend(new);
        Ok(())
    }

    /// Invites the next person (by the owner, or the system for the first one).
    pub fn invite(&mut self, role: SingleRole) -> anyhow::Result<InvitationId> {
        let id = InvitationId::from_uuid(Uuid::now_v7());
        let n = self.people;
        self.people += 1;
        let actor = if self.events.len() <= 1 {
            Actor::System
        } else {
            Actor::User(self.owner)
        };
        self.run(
            actor,
            OrgCommand::InviteUser {
                invitation_id: id,
                send_id: SendId::from_uuid(Uuid::now_v7()),
                email: Email::parse(&format!("p{n}.{}@bench.example", self.org))?,
                full_name: PersonName::parse(&format!("Person {n:06}"))?,
                role: Role::Single(role),
                token_digest: digest(),
            },
        )?;
        Ok(id)
    }

    fn join(&mut self, user: UserId, role: SingleRole) -> anyhow::Result<()> {
        let id = self.invite(role)?;
        self.run(
            Actor::System,
            OrgCommand::AcceptInvite {
                invitation_id: id,
                token_digest: digest(),
                user_id: user,
                full_name: PersonName::parse("Bench Person")?,
            },
        )
    }

    /// Adds `n` members who accepted their invitations.
    pub fn add_members(&mut self, n: usize) -> anyhow::Result<()> {
        for _ in 0..n {
            let user = UserId::from_uuid(Uuid::now_v7());
            self.join(user, SingleRole::Standard)?;
            self.members.push(user);
        }
        Ok(())
    }

    /// Invites and cancels until the org has about `total` events.
    pub fn churn_to(&mut self, total: usize) -> anyhow::Result<()> {
        while self.events.len() < total {
            let id = self.invite(SingleRole::Standard)?;
            self.run(
                Actor::User(self.owner),
                OrgCommand::CancelInvite { invitation_id: id },
            )?;
        }
        Ok(())
    }
}

fn digest() -> TokenDigest {
    TokenDigest::from_bytes([7; 32])
}

/// A context whose invitations all lapse at `deadline`.
pub fn expiring_at(now: DateTime<Utc>, deadline: DateTime<Utc>) -> Context {
    Context {
        now,
        invite_ttl: deadline - now,
    }
}

/// The usual context: now, with the default lifetime.
pub fn now() -> Context {
    Context::at(Utc::now())
}

/// Appends every org's events (in chunks) from `writers` concurrent tasks.
pub async fn append_all(
    store: Arc<dyn EventStore>,
    orgs: Vec<(OrgId, Vec<OrgEvent>)>,
    writers: usize,
) -> anyhow::Result<usize> {
    let queue = Arc::new(std::sync::Mutex::new(orgs));
    let tasks: Vec<_> = (0..writers)
        .map(|_| {
            let queue = queue.clone();
            let store = store.clone();
            tokio::spawn(async move {
                let mut written = 0usize;
                loop {
                    let next = queue.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.pop();
                    let Some((org, events)) = next else {
                        return Ok::<usize, anyhow::Error>(written);
                    };
                    written += append_stream(store.as_ref(), org, &events).await?;
                }
            })
        })
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await??;
    }
    Ok(total)
}

async fn append_stream(
    store: &dyn EventStore,
    org: OrgId,
    events: &[OrgEvent],
) -> anyhow::Result<usize> {
    let stream = StreamId::new(org.stream_name())?;
    let mut version = 0u64;
    for chunk in events.chunks(CHUNK) {
        let batch: Vec<NewEvent> = chunk
            .iter()
            .map(|e| {
                let (t, v, p) = encode(e)?;
                Ok(NewEvent {
                    event_id: Uuid::now_v7(),
                    event_type: t.to_owned(),
                    schema_version: v,
                    payload: p,
                    metadata: None,
                })
            })
            .collect::<anyhow::Result<_>>()?;
        let expected = match version {
            0 => ExpectedVersion::NoStream,
            v => ExpectedVersion::Exact(v),
        };
        version = store
            .append(&stream, expected, batch, &Metadata::default())
            .await?
            .last_version();
    }
    Ok(events.len())
}

/// Opens a session for each user; answers the bearer tokens in the same order.
pub async fn sessions_for(db: &Db, users: &[UserId]) -> anyhow::Result<Vec<String>> {
    let mut tokens = Vec::with_capacity(users.len());
    for user in users {
        let opened = sessions::open(db, *user, Utc::now(), Duration::hours(12)).await?;
        tokens.push(opened.token);
    }
    Ok(tokens)
}

/// Marks every email of the seeded history as sent, as it would be in a system
/// that has been running: both email senders start at the head of the log
/// (else the reset sender would read the whole seeded log during the cases).
pub async fn emails_already_sent(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO worker_checkpoints (name, position, updated_at) \
         SELECT sender, coalesce(max(global_position), 0), '' \
         FROM events, (VALUES ('worker.email'), ('worker.reset-email')) AS senders(sender) \
         GROUP BY sender \
         ON CONFLICT (name) DO UPDATE SET position = excluded.position",
    )
    .execute(pool)
    .await?;
    // Statistics, as autovacuum would have gathered them on a system that had
    // written this history over time.
    sqlx::query("ANALYZE").execute(pool).await?;
    Ok(())
}

impl OrgSeed {
    /// Decides the following commands in `ctx` (e.g. one shared deadline).
    pub fn retime(&mut self, ctx: Context) {
        self.ctx = ctx;
    }
}

//! `InviteUser` over HTTP from 32 connections against pgbench's raw INSERT, and
//! signed-in reads under that load against the same SQL run directly.

use std::sync::Arc;
use std::time::Duration;

use roster_commands::identity::sessions;
use roster_projections::queries::{self, MemberFilter};
use roster_storage::Db;
use serde_json::json;

use super::app::Seeded;
use super::raw_insert_script;
use crate::cpu::CpuTimes;
use crate::load::{self, median, Samples};
use crate::pg;
use crate::report::{CaseResult, Goal};
use crate::server::Server;
use crate::Settings;

/// Both HTTP cases.
pub async fn run(
    settings: &Settings,
    server: &Server,
    pool: &sqlx::PgPool,
    url: &str,
    seeded: &Seeded,
) -> anyhow::Result<Vec<CaseResult>> {
    sqlx::query(pg::RAW_TABLE).execute(pool).await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(settings.clients * 2)
        .build()?;
    let orgs = Arc::new(seeded.orgs.clone());
    let read = Db::Pg(pool.clone());
    let raw_insert = raw_insert_script(&super::sample_payload()?);

    warm_up(&client, &server.base, seeded).await?;
    let (mut raw, mut ours) = (Vec::new(), Vec::new());
    let mut invites = Samples::default();
    let mut reads = Vec::new();
    let mut cpu = json!(null);
    for round in 0..settings.rounds {
        raw.push(
            pg::pgbench(
                url,
                &settings.work,
                "raw-insert",
                &raw_insert,
                settings.clients,
                settings.seconds,
            )
            .await?,
        );
        let length = Duration::from_secs(settings.seconds);
        let invite = invite_load(
            settings.clients,
            length,
            &client,
            &server.base,
            &orgs,
            round,
        );
        let (me_http, me_sql, members_http, members_sql) = (
            get_load(
                length,
                &client,
                format!("{}/api/me", server.base),
                &seeded.big.1,
            ),
            me_direct(length, &read, &seeded.big.1),
            get_load(
                length,
                &client,
                format!("{}/api/orgs/{}/members?limit=50", server.base, seeded.big.0),
                &seeded.big.1,
            ),
            members_direct(length, &read, seeded.big.0, &seeded.big.1),
        );
        let before = CpuTimes::now(server.pid());
        let (inv, a, b, c, d) = tokio::join!(invite, me_http, me_sql, members_http, members_sql);
        cpu = before.per_op_ms(&CpuTimes::now(server.pid()), inv.ok.len());
        ours.push(inv.rate());
        invites = inv;
        reads = vec![a, b, c, d];
    }
    let invite_p99 = invites.quantile_ms(0.99);
    let invite = CaseResult::new(
        "invite_user_http",
        median(ours.clone()),
        median(raw.clone()),
        "req/s vs tps",
        Goal::AtLeast(0.5),
        invite_p99 <= 25.0 && invites.failed == 0,
        json!({
            "connections": settings.clients,
            "organizations": orgs.len(),
            "rounds_roster": ours,
            "rounds_raw_pgbench": raw,
            "last_round": invites.summary(),
            "cpu_per_invite_last_round": cpu,
            "p99_goal_ms": 25,
        }),
    );
    let [me_http, me_sql, members_http, members_sql] =
        <[Samples; 4]>::try_from(reads).map_err(|_| anyhow::anyhow!("no read rounds"))?;
    let read_case = |name: &str, http: &Samples, direct: &Samples| {
        CaseResult::new(
            name,
            http.quantile_ms(0.99),
            direct.quantile_ms(0.99),
            "p99 ms",
            Goal::AtMost(2.0),
            http.failed == 0 && direct.failed == 0,
            json!({ "http": http.summary(), "direct_sql": direct.summary(), "under": "the invite load" }),
        )
    };
    Ok(vec![
        invite,
        read_case("get_me_under_load", &me_http, &me_sql),
        read_case(
            "member_list_50_of_10000_under_load",
            &members_http,
            &members_sql,
        ),
    ])
}

async fn invite_load(
    clients: usize,
    length: Duration,
    client: &reqwest::Client,
    base: &str,
    orgs: &Arc<Vec<(roster_domain::OrgId, String)>>,
    round: usize,
) -> Samples {
    let (client, base, orgs) = (client.clone(), base.to_owned(), orgs.clone());
    load::run(clients, length, move |c, n| {
        let (client, base, orgs) = (client.clone(), base.clone(), orgs.clone());
        async move {
            let (org, token) = &orgs[(c + n * clients) % orgs.len()];
            let response = client
                .post(format!("{base}/api/orgs/{org}/invitations"))
                .bearer_auth(token)
                .json(&json!({
                    "email": format!("r{round}.c{c}.n{n}@load.example"),
                    "full_name": "Load Person",
                    "role": "standard",
                }))
                .send()
                .await
                .map_err(|e| e.to_string())?;
            match response.status().as_u16() {
                201 => Ok(()),
                s => Err(format!(
                    "{s}: {}",
                    response.text().await.unwrap_or_default()
                )),
            }
        }
    })
    .await
}

async fn get_load(length: Duration, client: &reqwest::Client, url: String, token: &str) -> Samples {
    let (client, token) = (client.clone(), token.to_owned());
    load::run(1, length, move |_, _| {
        let (client, url, token) = (client.clone(), url.clone(), token.clone());
        async move {
            let response = client
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let status = response.status().as_u16();
            response.bytes().await.map_err(|e| e.to_string())?;
            (status == 200)
                .then_some(())
                .ok_or(format!("status {status}"))
        }
    })
    .await
}

/// Whose session `token` is: the lookup every signed-in request starts with.
async fn signed_in(read: &Db, token: &str) -> Result<roster_domain::UserId, String> {
    sessions::identify(read, token, chrono::Utc::now())
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "no session".to_owned())
}

/// What `GET /api/me` asks the database, asked directly.
async fn me_direct(length: Duration, read: &Db, token: &str) -> Samples {
    let (read, token) = (read.clone(), token.to_owned());
    load::run(1, length, move |_, _| {
        let (read, token) = (read.clone(), token.clone());
        async move {
            let user = signed_in(&read, &token).await?;
            for grant in queries::access_of(&read, user)
                .await
                .map_err(|e| e.to_string())?
            {
                queries::org_profile(&read, grant.org_id)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Ok(())
        }
    })
    .await
}

/// What the first member page asks the database, asked directly.
async fn members_direct(
    length: Duration,
    read: &Db,
    org: roster_domain::OrgId,
    token: &str,
) -> Samples {
    let (read, token) = (read.clone(), token.to_owned());
    load::run(1, length, move |_, _| {
        let (read, token) = (read.clone(), token.clone());
        async move {
            let user = signed_in(&read, &token).await?;
            let page = queries::members(&read, org, Some(user), &MemberFilter::default(), None, 50)
                .await
                .map_err(|e| e.to_string())?;
            (page.members.len() == 50)
                .then_some(())
                .ok_or(format!("{} members", page.members.len()))
        }
    })
    .await
}

/// One read per organization first, as a server that has been running would
/// have their states cached: a cold load (folding a 20,000-event history) is a
/// one-time cost, measured apart by `command_on_long_history`.
async fn warm_up(client: &reqwest::Client, base: &str, seeded: &Seeded) -> anyhow::Result<()> {
    let mut all: Vec<(roster_domain::OrgId, String)> = seeded.orgs.clone();
    all.push(seeded.big.clone());
    for (org, token) in &all {
        let response = client
            .get(format!("{base}/api/orgs/{org}/members?limit=1"))
            .bearer_auth(token)
            .send()
            .await?;
        let status = response.status();
        anyhow::ensure!(status.is_success(), "warm-up read answered {status}");
    }
    let me = client
        .get(format!("{base}/api/me"))
        .bearer_auth(&seeded.big.1)
        .send()
        .await?;
    anyhow::ensure!(
        me.status().is_success(),
        "warm-up /api/me answered {}",
        me.status()
    );
    Ok(())
}

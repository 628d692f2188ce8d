//! A real headless Chromium, driven over WebDriver (Debian's `chromium` and
//! `chromium-driver`, which `scripts/test` installs when missing), for tests that
//! use Roster's web page as a person would.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use tokio::process::{Child, Command};

/// How long a page has to show what a step waits for.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// A browser session on its own `chromedriver`; both end when it is dropped.
pub struct Browser {
    /// The WebDriver session.
    pub client: Client,
    /// Roster's `http://127.0.0.1:<port>`.
    pub base: String,
    driver: Child,
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

fn driver_binary() -> anyhow::Result<&'static str> {
    for candidate in ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"] {
        if Path::new(candidate).exists() {
            return Ok(candidate);
        }
    }
    anyhow::bail!(
        "chromedriver is not installed: run scripts/test (it installs Debian's chromium and chromium-driver)"
    )
}

impl Browser {
    /// Opens a headless Chromium `width` pixels wide on Roster at `base`.
    pub async fn open(base: &str, width: u32) -> anyhow::Result<Self> {
        let port = free_port()?;
        let driver = Command::new(driver_binary()?)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let http = reqwest::Client::new();
        while http.get(format!("{url}/status")).send().await.is_err() {
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                    "--no-first-run", "--disable-extensions", "--hide-scrollbars",
                    format!("--window-size={width},900"),
                ],
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&url)
            .await?;
        let browser = Self {
            client,
            base: base.trim_end_matches('/').to_owned(),
            driver,
        };
        browser.resize(width).await?;
        Ok(browser)
    }

    /// Makes the viewport (not the window) `width` pixels wide and 900 high.
    pub async fn resize(&self, width: u32) -> anyhow::Result<()> {
        self.resize_to(width, 900).await
    }

    /// Makes the viewport (not the window, whose frame takes some room) exactly
    /// `width` × `height` pixels.
    pub async fn resize_to(&self, width: u32, height: u32) -> anyhow::Result<()> {
        self.client.set_window_size(width, height).await?;
        let inner = self
            .eval("return [window.innerWidth, window.innerHeight]")
            .await?;
        let measured = |i: usize, asked: u32| {
            inner[i]
                .as_u64()
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(asked)
        };
        let (w, h) = (measured(0, width), measured(1, height));
        if (w, h) != (width, height) {
            self.client
                .set_window_size(
                    width + width.saturating_sub(w),
                    height + height.saturating_sub(h),
                )
                .await?;
        }
        Ok(())
    }

    /// Ends the session and the driver.
    pub async fn close(mut self) -> anyhow::Result<()> {
        self.client.clone().close().await?;
        let _ = self.driver.kill().await;
        Ok(())
    }

    /// Opens `path` on Roster.
    pub async fn goto(&self, path: &str) -> anyhow::Result<()> {
        self.client.goto(&format!("{}{path}", self.base)).await?;
        Ok(())
    }

    /// The path the page shows now.
    pub async fn path(&self) -> anyhow::Result<String> {
        Ok(self.client.current_url().await?.path().to_owned())
    }

    /// Runs `script` in the page and returns its value.
    pub async fn eval(&self, script: &str) -> anyhow::Result<Value> {
        Ok(self.client.execute(script, vec![]).await?)
    }

    /// Waits until `check` holds, polling; fails naming `what` after [`PATIENCE`].
    pub async fn until<F, Fut>(&self, what: &str, mut check: F) -> anyhow::Result<()>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<bool>>,
    {
        self.poll(what, || {
            let fut = check();
            async move { Ok(fut.await?.then_some(())) }
        })
        .await
    }

    /// Polls `look` until it finds something; fails naming `what` after [`PATIENCE`].
    pub async fn poll<T, F, Fut>(&self, what: &str, mut look: F) -> anyhow::Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<Option<T>>>,
    {
        let started = Instant::now();
        loop {
            if let Ok(Some(found)) = look().await {
                return Ok(found);
            }
            if started.elapsed() > PATIENCE {
                let text = self.page_text().await.unwrap_or_default();
                anyhow::bail!("waited {PATIENCE:?} for {what}; the page says:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The first visible element matching `css`, waiting for it.
    pub async fn find(&self, css: &str) -> anyhow::Result<Element> {
        self.poll(&format!("an element `{css}`"), || async {
            for e in self.client.find_all(Locator::Css(css)).await? {
                if e.is_displayed().await? {
                    return Ok(Some(e));
                }
            }
            Ok(None)
        })
        .await
    }

    /// Whether a visible element matches `css` now.
    pub async fn shows(&self, css: &str) -> anyhow::Result<bool> {
        for e in self.client.find_all(Locator::Css(css)).await? {
            if e.is_displayed().await? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Waits until no visible element matches `css`.
    pub async fn gone(&self, css: &str) -> anyhow::Result<()> {
        self.until(&format!("`{css}` to go"), || async {
            Ok(!self.shows(css).await?)
        })
        .await
    }

    /// A visible button (or link styled as one) whose text is `label`, inside the
    /// open dialog when there is one.
    pub async fn button(&self, label: &str) -> anyhow::Result<Element> {
        let xpath = format!(
            "//*[self::button or self::a][normalize-space()={}]",
            xpath_literal(label)
        );
        let in_dialog = format!("//dialog[@open]{xpath}");
        self.poll(&format!("a button “{label}”"), || async {
            let dialog_open = !self
                .client
                .find_all(Locator::Css("dialog[open]"))
                .await?
                .is_empty();
            let path = if dialog_open { &in_dialog } else { &xpath };
            for e in self.client.find_all(Locator::XPath(path)).await? {
                if e.is_displayed().await? {
                    return Ok(Some(e));
                }
            }
            Ok(None)
        })
        .await
    }

    /// Clicks the button labelled `label`.
    pub async fn click(&self, label: &str) -> anyhow::Result<()> {
        // A live page may redraw a list between finding a button and clicking
        // it: find it again once.
        match self.button(label).await?.click().await {
            Err(e) if e.to_string().contains("stale element") => {
                self.button(label).await?.click().await?;
            }
            other => {
                other?;
            }
        }
        Ok(())
    }

    /// Opens the tab whose name (before its count) is `name`.
    pub async fn tab(&self, name: &str) -> anyhow::Result<()> {
        let xpath = format!(
            "//*[@role='tab'][starts-with(normalize-space(), {})]",
            xpath_literal(name)
        );
        let tab = self
            .poll(&format!("a tab “{name}”"), || async {
                for e in self.client.find_all(Locator::XPath(&xpath)).await? {
                    if e.is_displayed().await? {
                        return Ok(Some(e));
                    }
                }
                Ok(None)
            })
            .await?;
        tab.click().await?;
        Ok(())
    }

    /// Types `text` into the input labelled `label` (inside the open dialog if any).
    pub async fn fill(&self, label: &str, text: &str) -> anyhow::Result<()> {
        let input = self.labelled(label).await?;
        input.clear().await?;
        input.send_keys(text).await?;
        Ok(())
    }

    /// Chooses `value` in the group of radio buttons whose legend is `label`, or
    /// else in the select labelled `label` (inside the open dialog if any).
    pub async fn choose(&self, label: &str, value: &str) -> anyhow::Result<()> {
        let radio = format!(
            "//fieldset[legend[normalize-space()={}]]//input[@type='radio' and @value={}]",
            xpath_literal(label),
            xpath_literal(value)
        );
        let (control, is_radio) = self
            .poll(&format!("a choice “{label}”"), || async {
                let scoped = format!("//dialog[@open]{radio}");
                for path in [scoped.as_str(), radio.as_str()] {
                    for e in self.client.find_all(Locator::XPath(path)).await? {
                        if e.is_displayed().await? {
                            return Ok(Some((e, true)));
                        }
                    }
                }
                Ok(self.labelled_now(label).await?.map(|e| (e, false)))
            })
            .await?;
        if is_radio {
            control.click().await?;
        } else {
            control.select_by_value(value).await?;
        }
        Ok(())
    }

    /// The visible control a `<label>` with this text (or an `aria-label`) names,
    /// inside the open dialog when there is one.
    pub async fn labelled(&self, label: &str) -> anyhow::Result<Element> {
        self.poll(&format!("a field “{label}”"), || {
            self.labelled_now(label)
        })
        .await
    }

    /// [`Self::labelled`] without waiting: the control if it shows now.
    async fn labelled_now(&self, label: &str) -> anyhow::Result<Option<Element>> {
        let literal = xpath_literal(label);
        let scope = if self
            .client
            .find_all(Locator::Css("dialog[open]"))
            .await?
            .is_empty()
        {
            ""
        } else {
            "//dialog[@open]"
        };
        let labels = format!("{scope}//label[normalize-space()={literal}]");
        for l in self.client.find_all(Locator::XPath(&labels)).await? {
            let Some(id) = l.attr("for").await? else {
                continue;
            };
            let e = self.client.find(Locator::Id(&id)).await?;
            if e.is_displayed().await? {
                return Ok(Some(e));
            }
        }
        let aria = format!("{scope}//*[@aria-label={literal}]");
        for e in self.client.find_all(Locator::XPath(&aria)).await? {
            if e.is_displayed().await? {
                return Ok(Some(e));
            }
        }
        Ok(None)
    }

    /// Waits until the text of the first element matching `css` contains `text`.
    pub async fn see(&self, css: &str, text: &str) -> anyhow::Result<()> {
        self.until(&format!("`{css}` to say “{text}”"), || async {
            for e in self.client.find_all(Locator::Css(css)).await? {
                if e.is_displayed().await? && e.text().await?.contains(text) {
                    return Ok(true);
                }
            }
            Ok(false)
        })
        .await
    }

    /// Opens the header's user menu.
    pub async fn open_user_menu(&self) -> anyhow::Result<()> {
        self.find("#user-menu-button").await?.click().await?;
        self.find("#user-menu-list").await?;
        Ok(())
    }

    /// Signs in on the sign-in page and waits for the home page.
    pub async fn sign_in(&self, email: &str, password: &str) -> anyhow::Result<()> {
        self.goto("/sign-in").await?;
        self.see("h1", "Sign in").await?;
        self.fill("Email", email).await?;
        self.click("Continue").await?;
        // A member of an organization with single sign-on is offered it
        // first; the password is one choice away (unless it is required).
        let offered = self
            .poll("the password or single sign-on", || async {
                if self.shows("input[type=password]").await? {
                    return Ok(Some(false));
                }
                let sso = self.shows("p.note").await?;
                Ok(sso.then_some(true))
            })
            .await?;
        if offered {
            self.click("Use my Roster password instead").await?;
        }
        self.fill("Password", password).await?;
        self.click("Sign in").await?;
        self.see("h1", "Your organizations").await
    }

    /// Signs out from the user menu and waits for the sign-in page.
    pub async fn sign_out(&self) -> anyhow::Result<()> {
        self.open_user_menu().await?;
        self.click("Sign out").await?;
        self.see("h1", "Sign in").await
    }

    /// The visible text of the whole page.
    pub async fn page_text(&self) -> anyhow::Result<String> {
        Ok(self
            .eval("return document.body.innerText")
            .await?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// Saves a PNG of the viewport (grown to the page's height) to `path`.
    pub async fn screenshot(&self, path: &Path) -> anyhow::Result<()> {
        let png = self.client.screenshot().await?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, png)?;
        Ok(())
    }
}

/// An XPath string literal for `s` (which may hold either kind of quote).
fn xpath_literal(s: &str) -> String {
    if !s.contains('"') {
        format!("\"{s}\"")
    } else if !s.contains('\'') {
        format!("'{s}'")
    } else {
        let parts: Vec<String> = s.split('"').map(|p| format!("\"{p}\"")).collect();
        format!("concat({})", parts.join(", '\"', "))
    }
}

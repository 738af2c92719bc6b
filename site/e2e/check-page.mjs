#!/usr/bin/env node
/**
 * Loads the built site from a running server in headless Chromium and checks
 * what a reader would see. Used by frontend-server's end-to-end test against
 * the real api and frontend-server binaries.
 *
 *   node site/e2e/check-page.mjs --base http://127.0.0.1:PORT \
 *        (--expect-env ENV | --expect-api-down) --screenshot-dir DIR \
 *        [--expect-not-found-status CODE] [--chromium PATH] [--timeout-ms MS]
 *
 * Checks, in order:
 *   1. `/`: the status widget settles within the timeout (<= 15 s). With
 *      --expect-env it must show status, service and environment, the
 *      environment equal to ENV; with --expect-api-down it must show the
 *      error state instead. Screenshot: DIR/home.png.
 *   2. `/about/` loaded directly, then reloaded (deep link): about content
 *      and title. Screenshot: DIR/about.png.
 *   3. `/no-such-page/`: the 404 page content and title, with the path
 *      filled in by the hydrated page. The server must answer unknown pages
 *      with 404.html (frontend-server's Gatsby fallback mode): under the
 *      seed's index.html fallback, Gatsby's runtime rewrites the URL to `/`
 *      and shows the status page, which this check reports as a failure.
 *      Screenshot: DIR/not-found.png.
 *   Throughout: no request leaves the server's origin (the site must not use
 *   CDNs, web fonts or analytics), and no uncaught page error.
 *
 * Prints one JSON line (`"ok": true|false`) on stdout. Exit 0 when every
 * check passed, 1 when one failed (message on stderr), 2 on a usage error.
 *
 * Chromium: Debian's /usr/bin/chromium driven by playwright-core (never a
 * downloaded browser), with a throwaway HOME and profile, and DNS limited to
 * the server's host so nothing outside loopback is reachable.
 */
import { mkdtemp, mkdir, rm, access } from "node:fs/promises"
import { constants as fsConstants } from "node:fs"
import { tmpdir } from "node:os"
import path from "node:path"
import { parseArgs } from "node:util"

const SITE_TITLE = "Rust Web Stack"
const MAX_WAIT_MS = 15_000
const NOT_FOUND_PATH = "/no-such-page/"

class UsageError extends Error {}
class CheckFailed extends Error {}

const USAGE =
  "usage: node check-page.mjs --base http://127.0.0.1:PORT " +
  "(--expect-env ENV | --expect-api-down) --screenshot-dir DIR " +
  "[--expect-not-found-status CODE] [--chromium PATH] [--timeout-ms MS]"

function parseCli(argv) {
  let values
  try {
    ;({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        base: { type: "string" },
        "expect-env": { type: "string" },
        "expect-api-down": { type: "boolean", default: false },
        "screenshot-dir": { type: "string" },
        "expect-not-found-status": { type: "string" },
        chromium: { type: "string" },
        "timeout-ms": { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    }))
  } catch (err) {
    throw new UsageError(`${err.message}\n${USAGE}`)
  }
  if (values.help) {
    console.log(USAGE)
    process.exit(0)
  }
  if (!values.base) throw new UsageError(`--base is required\n${USAGE}`)
  let base
  try {
    base = new URL(values.base)
  } catch {
    throw new UsageError(`--base: "${values.base}" is not a URL`)
  }
  if (base.protocol !== "http:" && base.protocol !== "https:") {
    throw new UsageError(`--base: "${values.base}" must be an http(s) URL`)
  }
  const apiDown = values["expect-api-down"]
  const expectEnv = values["expect-env"]
  if (apiDown && expectEnv !== undefined) {
    throw new UsageError("--expect-env and --expect-api-down exclude each other")
  }
  if (!apiDown && (expectEnv === undefined || expectEnv === "")) {
    throw new UsageError(`one of --expect-env ENV or --expect-api-down is required\n${USAGE}`)
  }
  if (!values["screenshot-dir"]) {
    throw new UsageError(`--screenshot-dir is required\n${USAGE}`)
  }
  let timeoutMs = MAX_WAIT_MS
  if (values["timeout-ms"] !== undefined) {
    timeoutMs = Number(values["timeout-ms"])
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_WAIT_MS) {
      throw new UsageError(
        `--timeout-ms: "${values["timeout-ms"]}" must be an integer from 1 to ${MAX_WAIT_MS}`
      )
    }
  }
  let notFoundStatus = null
  if (values["expect-not-found-status"] !== undefined) {
    notFoundStatus = Number(values["expect-not-found-status"])
    if (!Number.isInteger(notFoundStatus) || notFoundStatus < 100 || notFoundStatus > 599) {
      throw new UsageError(
        `--expect-not-found-status: "${values["expect-not-found-status"]}" is not an HTTP status code`
      )
    }
  }
  return {
    // Origin only: paths below are absolute ("/", "/about/").
    origin: base.origin,
    host: base.hostname,
    expectEnv: apiDown ? null : expectEnv,
    apiDown,
    screenshotDir: path.resolve(values["screenshot-dir"]),
    notFoundStatus,
    chromium: values.chromium || process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    timeoutMs,
  }
}

function check(condition, message) {
  if (!condition) throw new CheckFailed(message)
}

async function loadPlaywright() {
  try {
    return await import("playwright-core")
  } catch (err) {
    throw new CheckFailed(
      `cannot load playwright-core (${err.code || err.message}); run ` +
        "`npm ci --ignore-scripts` in site/ (or scripts/build-site.sh) first"
    )
  }
}

async function launch(opts, workDir) {
  try {
    await access(opts.chromium, fsConstants.X_OK)
  } catch {
    throw new CheckFailed(
      `chromium not found or not executable at ${opts.chromium}; install it with ` +
        "`apt-get install -y --no-install-recommends chromium` or pass --chromium PATH"
    )
  }
  const { chromium } = await loadPlaywright()
  const home = path.join(workDir, "home")
  const profile = path.join(workDir, "profile")
  await mkdir(home)
  // Every name resolves to "not found" except the server's own host, so a
  // request to a CDN or analytics host fails instead of leaving the machine.
  const hostRules = ["MAP * ~NOTFOUND", "EXCLUDE 127.0.0.1", "EXCLUDE localhost"]
  if (!["127.0.0.1", "localhost"].includes(opts.host)) hostRules.push(`EXCLUDE ${opts.host}`)
  try {
    return await chromium.launchPersistentContext(profile, {
      executablePath: opts.chromium,
      headless: true,
      // Chromium writes ~/.config and ~/.cache: keep them in the temp dir.
      env: { ...process.env, HOME: home },
      viewport: { width: 1100, height: 760 },
      timeout: 30_000,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        `--host-resolver-rules=${hostRules.join(", ")}`,
      ],
    })
  } catch (err) {
    throw new CheckFailed(
      `could not start ${opts.chromium}: ${err.message.split("\n").slice(0, 3).join(" ")}`
    )
  }
}

/** page.goto that turns a navigation error (refused, reset, timeout) into a failed check. */
async function visit(page, url) {
  let response
  try {
    response = await page.goto(url, { waitUntil: "load" })
  } catch (err) {
    throw new CheckFailed(`GET ${url} failed: ${err.message.split("\n")[0]}`)
  }
  if (!response) throw new CheckFailed(`GET ${url}: no response`)
  return response
}

async function text(page, testId) {
  const loc = page.getByTestId(testId)
  if ((await loc.count()) === 0) return null
  return (await loc.first().innerText()).trim()
}

/** Waits for the status widget to leave "loading"; returns its final state. */
async function settledWidgetState(page, timeoutMs) {
  const widget = page.locator('[data-testid="status-widget"]')
  try {
    await page.waitForSelector(
      '[data-testid="status-widget"]:is([data-state="loaded"], [data-state="error"])',
      { timeout: timeoutMs }
    )
  } catch {
    const state = (await widget.count()) ? await widget.getAttribute("data-state") : "absent"
    throw new CheckFailed(
      `/: status widget did not settle within ${timeoutMs} ms (data-state=${state})`
    )
  }
  return widget.getAttribute("data-state")
}

async function checkHome(page, opts, results) {
  const response = await visit(page, `${opts.origin}/`)
  const home = { httpStatus: response.status() }
  results.home = home
  check(response.ok(), `/: HTTP ${response.status()}, expected 2xx`)
  const state = await settledWidgetState(page, opts.timeoutMs)
  home.widgetState = state
  home.title = await page.title()
  check(
    home.title === `Status · ${SITE_TITLE}`,
    `/: title is "${home.title}", expected "Status · ${SITE_TITLE}"`
  )

  if (opts.apiDown) {
    home.error = await text(page, "status-error")
    await page.screenshot({ path: path.join(opts.screenshotDir, "home.png"), fullPage: true })
    results.screenshots.push("home.png")
    check(
      state === "error",
      `/: expected the API error state, but the widget shows data ` +
        `(environment "${await text(page, "environment-value")}")`
    )
    check(home.error, "/: error state shown without an error message")
    check(
      (await text(page, "environment-value")) === null,
      "/: error state still shows an environment value"
    )
    return
  }

  home.error = state === "error" ? await text(page, "status-error") : null
  home.status = await text(page, "status-value")
  home.service = await text(page, "service-value")
  home.environment = await text(page, "environment-value")
  await page.screenshot({ path: path.join(opts.screenshotDir, "home.png"), fullPage: true })
  results.screenshots.push("home.png")
  check(state === "loaded", `/: status widget shows the error state: ${home.error}`)
  check(home.status, "/: status value is empty")
  check(home.service, "/: service value is empty")
  check(
    home.environment === opts.expectEnv,
    `/: environment is "${home.environment}", expected "${opts.expectEnv}"`
  )
}

async function checkAbout(page, opts, results) {
  const about = {}
  results.about = about
  const response = await visit(page, `${opts.origin}/about/`)
  about.httpStatus = response.status()
  check(response.ok(), `/about/: HTTP ${response.status()}, expected 2xx`)
  // A real reload of the deep link, as a reader pressing F5 would.
  let reloaded
  try {
    reloaded = await page.reload({ waitUntil: "load" })
  } catch (err) {
    throw new CheckFailed(`/about/: reload failed: ${err.message.split("\n")[0]}`)
  }
  about.reloadStatus = reloaded?.status() ?? null
  check(reloaded?.ok(), `/about/: reload answered HTTP ${about.reloadStatus}, expected 2xx`)
  try {
    await page.getByTestId("about").waitFor({ timeout: opts.timeoutMs })
  } catch {
    throw new CheckFailed(`/about/: about content not shown within ${opts.timeoutMs} ms`)
  }
  about.heading = (await page.locator('[data-testid="about"] h1').innerText()).trim()
  about.title = await page.title()
  await page.screenshot({ path: path.join(opts.screenshotDir, "about.png"), fullPage: true })
  results.screenshots.push("about.png")
  check(
    about.heading === "About this stack",
    `/about/: heading is "${about.heading}", expected "About this stack"`
  )
  check(
    about.title === `About · ${SITE_TITLE}`,
    `/about/: title is "${about.title}", expected "About · ${SITE_TITLE}"`
  )
}

async function checkNotFound(page, opts, results) {
  const notFound = {}
  results.notFound = notFound
  const response = await visit(page, `${opts.origin}${NOT_FOUND_PATH}`)
  notFound.httpStatus = response.status()
  if (opts.notFoundStatus !== null) {
    check(
      notFound.httpStatus === opts.notFoundStatus,
      `${NOT_FOUND_PATH}: HTTP ${notFound.httpStatus}, expected ${opts.notFoundStatus}`
    )
  }
  // The path is filled in after hydration (see src/pages/404.js), so this
  // also proves the page's JavaScript ran.
  try {
    await page
      .locator('[data-testid="not-found-path"]')
      .filter({ hasText: NOT_FOUND_PATH })
      .waitFor({ timeout: opts.timeoutMs })
  } catch {
    notFound.title = await page.title()
    await page.screenshot({ path: path.join(opts.screenshotDir, "not-found.png"), fullPage: true })
    results.screenshots.push("not-found.png")
    const landedOn = new URL(page.url()).pathname
    if (landedOn !== NOT_FOUND_PATH) {
      // Seen when the server answers unknown pages with index.html (the
      // seed's try_files fallback): Gatsby's runtime then replaces the URL
      // with index.html's own path and renders that page instead.
      throw new CheckFailed(
        `${NOT_FOUND_PATH}: the browser ended up on ${landedOn} (title "${notFound.title}"), ` +
          `not on the 404 page; the server answered HTTP ${notFound.httpStatus} with another ` +
          "page's HTML (index.html fallback?): unknown pages need 404.html (Gatsby fallback mode)"
      )
    }
    throw new CheckFailed(
      `${NOT_FOUND_PATH}: 404 page naming the path not shown within ${opts.timeoutMs} ms ` +
        `(title "${notFound.title}")`
    )
  }
  notFound.heading = (await page.locator('[data-testid="not-found"] h1').innerText()).trim()
  notFound.title = await page.title()
  await page.screenshot({ path: path.join(opts.screenshotDir, "not-found.png"), fullPage: true })
  results.screenshots.push("not-found.png")
  check(
    notFound.heading === "Page not found",
    `${NOT_FOUND_PATH}: heading is "${notFound.heading}", expected "Page not found"`
  )
  check(
    notFound.title === `Page not found · ${SITE_TITLE}`,
    `${NOT_FOUND_PATH}: title is "${notFound.title}", expected "Page not found · ${SITE_TITLE}"`
  )
}

async function run(opts, results) {
  await mkdir(opts.screenshotDir, { recursive: true })
  const workDir = await mkdtemp(path.join(tmpdir(), "check-page-"))
  let context
  try {
    context = await launch(opts, workDir)
    // Requests to any other origin are refused and recorded: the page must
    // work from its own server alone.
    await context.route("**/*", route => {
      const url = route.request().url()
      if (url.startsWith(`${opts.origin}/`) || url.startsWith("data:")) return route.continue()
      results.externalRequests.push(url)
      return route.abort("blockedbyclient")
    })
    const page = context.pages()[0] ?? (await context.newPage())
    page.setDefaultTimeout(opts.timeoutMs)
    page.on("pageerror", err => results.pageErrors.push(String(err.message || err)))
    page.on("console", msg => {
      if (msg.type() === "error") results.consoleErrors.push(msg.text())
    })

    await checkHome(page, opts, results)
    await checkAbout(page, opts, results)
    await checkNotFound(page, opts, results)

    check(
      results.externalRequests.length === 0,
      `the site requested other origins: ${results.externalRequests.join(", ")}`
    )
    check(
      results.pageErrors.length === 0,
      `uncaught errors in the page: ${results.pageErrors.join(" | ")}`
    )
  } finally {
    await context?.close().catch(() => {})
    await rm(workDir, { recursive: true, force: true }).catch(() => {})
  }
}

async function main() {
  const started = Date.now()
  let opts
  try {
    opts = parseCli(process.argv.slice(2))
  } catch (err) {
    console.error(`check-page: ${err.message}`)
    process.exit(2)
  }
  const results = {
    ok: false,
    base: opts.origin,
    mode: opts.apiDown ? "expect-api-down" : "expect-env",
    expectEnv: opts.expectEnv,
    screenshotDir: opts.screenshotDir,
    screenshots: [],
    externalRequests: [],
    pageErrors: [],
    consoleErrors: [],
  }
  // A hung browser must not hang the caller's test.
  const watchdog = setTimeout(() => {
    results.error = "timed out after 120 s"
    console.log(JSON.stringify(results))
    console.error("check-page: FAILED: timed out after 120 s")
    process.exit(1)
  }, 120_000)
  let exitCode = 0
  try {
    await run(opts, results)
    results.ok = true
  } catch (err) {
    results.error = err instanceof CheckFailed ? err.message : `unexpected error: ${err.stack || err}`
    exitCode = 1
  }
  clearTimeout(watchdog)
  results.ms = Date.now() - started
  console.log(JSON.stringify(results))
  if (exitCode !== 0) console.error(`check-page: FAILED: ${results.error}`)
  process.exit(exitCode)
}

main()

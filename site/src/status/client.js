/**
 * Browser client for the api's status endpoint (ARCHITECTURE.md, "Request path"):
 * `GET /api/v1/status` -> 200 {"status":"ok","service":"api-service","environment":"<APP_ENV>"}.
 *
 * Relative URL on purpose: the page and the API share an origin because
 * frontend-server proxies `/api/` to the api service, so no CORS and no
 * build-time API address. (Not under src/api/: Gatsby treats that
 * directory as serverless Functions.)
 */
export const STATUS_PATH = "/api/v1/status"

/** How long the page waits before showing the error state (the e2e check allows 15 s). */
export const STATUS_TIMEOUT_MS = 8000

/** A failure the page shows to the reader; `message` says what went wrong. */
export class StatusError extends Error {
  constructor(message) {
    super(message)
    this.name = "StatusError"
  }
}

// The three fields the page shows; their names and meaning are the Gin service's (README.md, "api").
const REQUIRED_FIELDS = ["status", "service", "environment"]

/**
 * Checks the decoded body and returns the fields the page shows.
 * Throws StatusError naming the first field that is missing or not a string.
 */
export function parseStatus(body) {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new StatusError("API answered with JSON that is not an object")
  }
  for (const field of REQUIRED_FIELDS) {
    if (typeof body[field] !== "string" || body[field] === "") {
      throw new StatusError(
        `API answer has no usable "${field}" field (expected a non-empty string)`
      )
    }
  }
  return {
    status: body.status,
    service: body.service,
    environment: body.environment,
    version: typeof body.version === "string" ? body.version : null,
  }
}

/**
 * Fetches and validates the status. Rejects with StatusError for every
 * failure the reader should see: network error, timeout, non-2xx, a body
 * that is not JSON, JSON of the wrong shape. An abort through `signal`
 * (component unmounted) rejects with the original AbortError instead.
 */
export async function fetchStatus({ signal, timeoutMs = STATUS_TIMEOUT_MS } = {}) {
  const timeout = new AbortController()
  const timer = setTimeout(() => timeout.abort(), timeoutMs)
  const onOuterAbort = () => timeout.abort()
  signal?.addEventListener("abort", onOuterAbort, { once: true })
  try {
    let response
    try {
      response = await fetch(STATUS_PATH, {
        headers: { Accept: "application/json" },
        cache: "no-store",
        signal: timeout.signal,
      })
    } catch (err) {
      if (signal?.aborted) throw err
      if (timeout.signal.aborted) {
        throw new StatusError(
          `API did not answer within ${Math.round(timeoutMs / 1000)} s`
        )
      }
      throw new StatusError("API is unreachable (network error)")
    }
    if (!response.ok) {
      throw new StatusError(
        `API answered HTTP ${response.status}${
          response.statusText ? ` ${response.statusText}` : ""
        }`
      )
    }
    let body
    try {
      body = await response.json()
    } catch (err) {
      if (signal?.aborted) throw err
      throw new StatusError("API answered with a body that is not valid JSON")
    }
    return parseStatus(body)
  } finally {
    clearTimeout(timer)
    signal?.removeEventListener("abort", onOuterAbort)
  }
}

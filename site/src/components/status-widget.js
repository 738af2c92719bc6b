import * as React from "react"
import { fetchStatus, StatusError, STATUS_PATH } from "../status/client"

/**
 * Shows the api's status, service and environment, fetched in the browser.
 *
 * The `data-testid` and `data-state` attributes are a contract with
 * e2e/check-page.mjs (and through it, the frontend-server end-to-end test):
 *   status-widget[data-state] = "loading" | "loaded" | "error"
 *   status-value, service-value, environment-value  (loaded)
 *   status-error                                    (error)
 */
export function StatusWidget() {
  const [state, setState] = React.useState({ phase: "loading" })
  const [attempt, setAttempt] = React.useState(0)

  React.useEffect(() => {
    const controller = new AbortController()
    setState({ phase: "loading" })
    fetchStatus({ signal: controller.signal })
      .then(data => setState({ phase: "loaded", data, checkedAt: new Date() }))
      .catch(err => {
        if (controller.signal.aborted) return
        const message =
          err instanceof StatusError ? err.message : `Unexpected error: ${err}`
        setState({ phase: "error", message, checkedAt: new Date() })
      })
    return () => controller.abort()
  }, [attempt])

  const retry = () => setAttempt(n => n + 1)

  return (
    <section
      className={`status-widget status-widget--${state.phase}`}
      data-testid="status-widget"
      data-state={state.phase}
      aria-live="polite"
      aria-busy={state.phase === "loading"}
    >
      <h2>API status</h2>
      {state.phase === "loading" && (
        <p className="status-loading">
          Asking <code>{STATUS_PATH}</code>…
        </p>
      )}
      {state.phase === "loaded" && <StatusTable data={state.data} />}
      {state.phase === "error" && (
        <div className="status-error" role="alert">
          <p>
            <strong>The API is not available.</strong>
          </p>
          <p data-testid="status-error">{state.message}</p>
        </div>
      )}
      {state.phase !== "loading" && (
        <p className="status-meta">
          Checked at {state.checkedAt.toLocaleTimeString()}.{" "}
          <button type="button" onClick={retry} data-testid="status-retry">
            Check again
          </button>
        </p>
      )}
    </section>
  )
}

function StatusTable({ data }) {
  const healthy = data.status === "ok"
  return (
    <dl className="status-table">
      <dt>Status</dt>
      <dd>
        <span
          className={`badge ${healthy ? "badge-ok" : "badge-warn"}`}
          data-testid="status-value"
        >
          {data.status}
        </span>
      </dd>
      <dt>Service</dt>
      <dd data-testid="service-value">{data.service}</dd>
      <dt>Environment</dt>
      <dd data-testid="environment-value">{data.environment}</dd>
      {data.version && (
        <>
          <dt>Version</dt>
          <dd data-testid="version-value">{data.version}</dd>
        </>
      )}
    </dl>
  )
}

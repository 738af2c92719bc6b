import * as React from "react"
import { Link } from "gatsby"
import "../styles/site.css"

/** Page frame: header with navigation, main content, footer. */
export function Layout({ children }) {
  return (
    <div className="page">
      <header className="site-header">
        <Link to="/" className="brand">
          Rust Web Stack
        </Link>
        <nav aria-label="Main">
          <Link to="/" activeClassName="active">
            Status
          </Link>
          <Link to="/about/" activeClassName="active">
            About
          </Link>
        </nav>
      </header>
      <main id="main">{children}</main>
      <footer className="site-footer">
        Served by <code>frontend-server</code>; data from{" "}
        <code>/api/v1/status</code>.
      </footer>
    </div>
  )
}

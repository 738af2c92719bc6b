import * as React from "react"
import { Link } from "gatsby"
import { Layout } from "../components/layout"
import { Seo } from "../components/seo"

export default function AboutPage() {
  return (
    <Layout>
      <article data-testid="about">
        <h1>About this stack</h1>
        <p className="lead">
          A small web stack written in Rust, from the browser to the API.
        </p>
        <h2>Request path</h2>
        <ol className="path">
          <li>
            Your browser loads this static site (built with Gatsby) from{" "}
            <strong>frontend-server</strong>, a Rust replacement for nginx.
          </li>
          <li>
            frontend-server serves precompressed files with cache headers
            suited to Gatsby, and proxies <code>/api/</code> requests.
          </li>
          <li>
            The <strong>api</strong> service answers{" "}
            <code>GET /api/v1/status</code> with its status, name and
            environment.
          </li>
        </ol>
        <p>
          <Link to="/">Back to the status page</Link>
        </p>
      </article>
    </Layout>
  )
}

export const Head = () => (
  <Seo
    title="About"
    description="How the Rust web stack is put together: frontend-server and the api service."
  />
)

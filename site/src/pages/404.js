import * as React from "react"
import { Link } from "gatsby"
import { Layout } from "../components/layout"
import { Seo } from "../components/seo"

export default function NotFoundPage() {
  // The path is read after mount, not from SSR props: the pre-rendered
  // 404.html is built for "/404.html", and the server may send it for any
  // unknown path; reading it during render would make hydration mismatch.
  const [path, setPath] = React.useState(null)
  React.useEffect(() => setPath(window.location.pathname), [])
  return (
    <Layout>
      <article data-testid="not-found">
        <h1>Page not found</h1>
        <p className="lead">
          There is no page at{" "}
          {path ? (
            <code data-testid="not-found-path">{path}</code>
          ) : (
            "this address"
          )}
          .
        </p>
        <p>
          <Link to="/">Go to the status page</Link> or read{" "}
          <Link to="/about/">about this stack</Link>.
        </p>
      </article>
    </Layout>
  )
}

export const Head = () => <Seo title="Page not found" />

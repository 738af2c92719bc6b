import * as React from "react"
import { Layout } from "../components/layout"
import { Seo } from "../components/seo"
import { StatusWidget } from "../components/status-widget"

export default function StatusPage() {
  return (
    <Layout>
      <h1>Service status</h1>
      <p className="lead">
        Live answer of the api service, fetched by your browser through
        frontend-server's <code>/api/</code> proxy.
      </p>
      <StatusWidget />
    </Layout>
  )
}

export const Head = () => <Seo title="Status" />

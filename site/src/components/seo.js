import * as React from "react"
import { useStaticQuery, graphql } from "gatsby"

/**
 * Shared <head> content for Gatsby's Head API. Every page exports
 * `Head = () => <Seo title="..." />`, so titles come from one place and read
 * "<page> · <site>".
 */
export function Seo({ title, description, children }) {
  const { site } = useStaticQuery(graphql`
    query SiteMetadata {
      site {
        siteMetadata {
          title
          description
        }
      }
    }
  `)
  const siteTitle = site.siteMetadata.title
  return (
    <>
      <title>{title ? `${title} · ${siteTitle}` : siteTitle}</title>
      <meta
        name="description"
        content={description || site.siteMetadata.description}
      />
      <meta name="color-scheme" content="light dark" />
      {children}
    </>
  )
}

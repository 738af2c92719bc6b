// Gin reference server for the api benchmark (benchmark tooling only, never shipped).
//
// It reproduces what the original Go-Gin service did, written here for this project: the
// two endpoints, gin.Recovery(), and a JSON request-log middleware with the seed's field
// names (statusCode, latency, clientIP, method, path with query, userAgent) via logrus'
// JSON formatter, the common choice in Gin services of that style.
package main

import (
	"net/http"
	"os"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/sirupsen/logrus"
)

func jsonLogger(log *logrus.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		path := c.Request.URL.Path
		if raw := c.Request.URL.RawQuery; raw != "" {
			path = path + "?" + raw
		}
		c.Next()
		log.WithFields(logrus.Fields{
			"statusCode": c.Writer.Status(),
			"latency":    time.Since(start).String(),
			"clientIP":   c.ClientIP(),
			"method":     c.Request.Method,
			"path":       path,
			"userAgent":  c.Request.UserAgent(),
		}).Info("request")
	}
}

func main() {
	gin.SetMode(gin.ReleaseMode)
	log := logrus.New()
	log.SetFormatter(&logrus.JSONFormatter{})
	log.SetOutput(os.Stdout)

	env := os.Getenv("APP_ENV")
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	r := gin.New()
	r.Use(jsonLogger(log), gin.Recovery())
	r.GET("/api/v1/status", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"status": "ok", "service": "api-service", "environment": env})
	})
	r.GET("/healthz", func(c *gin.Context) { c.String(http.StatusOK, "healthy") })
	if err := r.Run("127.0.0.1:" + port); err != nil {
		log.Fatal(err)
	}
}

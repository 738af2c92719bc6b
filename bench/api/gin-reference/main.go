// Gin reference server for the api benchmark (benchmark tooling only, never shipped).
//
// The seed's service, code path for code path, written here for this project: the standard
// library's log/slog with a JSON handler on stdout as the default logger; gin.New() with
// gin.Recovery() first, then the request-log middleware, which calls slog.Info after
// c.Next() with the seed's fields (statusCode, latency as a time.Duration, clientIP, method,
// path with ?query appended, userAgent); the two endpoints; an http.Server stopped by a
// graceful Shutdown (5 s) on SIGINT/SIGTERM.
package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
)

func structuredLogger() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		path := c.Request.URL.Path
		raw := c.Request.URL.RawQuery

		c.Next()

		if raw != "" {
			path = path + "?" + raw
		}
		slog.Info("request processed",
			"statusCode", c.Writer.Status(),
			"latency", time.Since(start),
			"clientIP", c.ClientIP(),
			"method", c.Request.Method,
			"path", path,
			"userAgent", c.Request.UserAgent(),
		)
	}
}

func main() {
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stdout, nil)))

	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	env := os.Getenv("APP_ENV")
	if env == "" {
		env = "development"
	}

	gin.SetMode(gin.ReleaseMode)
	router := gin.New()
	router.Use(gin.Recovery(), structuredLogger())
	router.GET("/api/v1/status", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"status": "ok", "service": "api-service", "environment": env})
	})
	router.GET("/healthz", func(c *gin.Context) {
		c.String(http.StatusOK, "healthy")
	})

	// Loopback only: a benchmark server must not listen on the machine's interfaces.
	srv := &http.Server{Addr: "127.0.0.1:" + port, Handler: router}
	go func() {
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("listen", "error", err)
			os.Exit(1)
		}
	}()

	quit := make(chan os.Signal, 1)
	signal.Notify(quit, syscall.SIGINT, syscall.SIGTERM)
	<-quit
	slog.Info("shutting down server")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		slog.Error("server forced to shutdown", "error", err)
		os.Exit(1)
	}
	slog.Info("server exited")
}

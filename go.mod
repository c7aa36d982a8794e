module github.com/tinit/tinit

go 1.26.0

require (
	github.com/kelseyhightower/envconfig v1.4.0
	github.com/sirupsen/logrus v1.10.2
	golang.org/x/sys v0.49.0
)

require github.com/prometheus/common v0.73.1 // indirect

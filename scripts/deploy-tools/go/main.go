// The deployment checks' own Go program, two commands on one file each:
//
//	compose-config <compose file>  loads a Compose file the way `docker compose config` does
//	                               (compose-go, the library the docker CLI plugin is built on):
//	                               schema validation, ${VAR} and ${VAR:-default} interpolation,
//	                               merge keys, path resolution and the consistency checks
//	                               (unknown services in depends_on, undefined volumes, configs,
//	                               secrets and networks), then prints the model as JSON. It
//	                               needs no Docker engine.
//	yaml-to-json <file.yaml>       prints the documents of a YAML stream (a
//	                               CustomResourceDefinition file, say) as one JSON array, so
//	                               that the TypeScript side needs no YAML parser of its own.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
	"go.yaml.in/yaml/v3"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: sagaflow-deploy-tools compose-config <compose file> | yaml-to-json <file.yaml>")
		os.Exit(2)
	}
	var out any
	var err error
	switch os.Args[1] {
	case "compose-config":
		out, err = composeConfig(os.Args[2])
	case "yaml-to-json":
		out, err = yamlDocuments(os.Args[2])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err == nil {
		var text []byte
		text, err = json.MarshalIndent(out, "", "  ")
		if err == nil {
			fmt.Println(string(text))
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func composeConfig(file string) (any, error) {
	options, err := cli.NewProjectOptions([]string{file}, cli.WithOsEnv, cli.WithDotEnv, cli.WithResolvedPaths(true))
	if err != nil {
		return nil, err
	}
	return options.LoadProject(context.Background())
}

func yamlDocuments(path string) (any, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	decoder := yaml.NewDecoder(file)
	documents := []any{}
	for {
		var document any
		err := decoder.Decode(&document)
		if errors.Is(err, io.EOF) {
			return documents, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if document != nil {
			documents = append(documents, document)
		}
	}
}

"""The service room: command line, HTTP API, storage, certification rules, reports."""

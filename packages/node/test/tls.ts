/** The run's test PKI helpers, kept once in the test kit (@vela/testkit/tls). */
export * from "@vela/testkit/tls";

/** The network lab lives in the test kit (engine tests use it too); node tests import it from here. */
export { Lab, type LabHost, nsIp, nsRun } from "@vela/testkit/netlab";

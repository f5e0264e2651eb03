/** Fixtures taken from VDSM's own tests, so Vela's format is checked against VDSM's figures. */

/** VDSM's filesd_metadata_test.py domain metadata example, key for key. */
export const VDSM_EXAMPLE_SD = "275766cb-c7d8-43d6-a663-4e52160de620";
export const VDSM_EXAMPLE_MD: Readonly<Record<string, string>> = Object.freeze({
  ALIGNMENT: "1048576",
  BLOCK_SIZE: "512",
  CLASS: "Data",
  DESCRIPTION: "storage domain",
  IOOPTIMEOUTSEC: "10",
  LEASERETRIES: "3",
  LEASETIMESEC: "60",
  LOCKPOLICY: "",
  LOCKRENEWALINTERVALSEC: "5",
  POOL_UUID: "",
  REMOTE_PATH: "server:/path",
  ROLE: "Regular",
  SDUUID: VDSM_EXAMPLE_SD,
  TYPE: "LOCALFS",
  VERSION: "5",
});
/** Its checksum, as VDSM computes it. */
export const VDSM_EXAMPLE_CKSUM = "9336f77705ff9e3d5faf65c4d0dc818a29de458d";

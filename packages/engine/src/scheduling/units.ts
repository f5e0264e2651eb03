/**
 * The policy units Vela's scheduler (hosts.ts) is made of, as oVirt lists them at
 * /schedulingpolicyunits: what it filters hosts by and what it ranks them by. Vela balances
 * nothing (no migration), so it has no load-balancing unit. Names are oVirt's for the same rule;
 * the ids are Vela's own stable UUIDs. A unit joins this list with its code in hosts.ts.
 */
export interface PolicyUnit {
  id: string;
  name: string;
  description: string;
  type: "filter" | "weight" | "load_balancing";
}

export const POLICY_UNITS: readonly PolicyUnit[] = [
  {
    id: "6e0a2f4c-1b7d-4c55-9a0e-0d1c3b5a7f01",
    name: "PinToHost",
    description: "Keeps only the host a start names, when it names one (it must be up and in the VM's cluster)",
    type: "filter",
  },
  {
    id: "6e0a2f4c-1b7d-4c55-9a0e-0d1c3b5a7f02",
    name: "HostUpInCluster",
    description: "Keeps only the hosts of the VM's cluster that are up",
    type: "filter",
  },
  {
    id: "6e0a2f4c-1b7d-4c55-9a0e-0d1c3b5a7f03",
    name: "OptimalForEvenGuestDistribution",
    description: "Ranks hosts by the number of VMs they run, fewest first (ties: the lowest SPM id)",
    type: "weight",
  },
];

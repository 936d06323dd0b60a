# Everything kcore ships for NixOS: the daemons and the VMs the agent renders.
{
  imports = [ ./daemons.nix ./vms.nix ];
}

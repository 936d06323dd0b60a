{
  description = "kcore: a control plane for bare-metal machines (NixOS modules)";

  outputs = { self }: {
    nixosModules = {
      default = import ./nix/modules/default.nix;
      daemons = import ./nix/modules/daemons.nix;
      vms = import ./nix/modules/vms.nix;
    };
  };
}

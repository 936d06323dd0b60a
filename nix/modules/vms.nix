# Runs the VMs that kcore renders into `services.kcore.vms` (see docs/nixos.md) as systemd
# units, one Cloud Hypervisor process per VM. Every value reaches the hypervisor's command line
# through lib.escapeShellArgs in a generated script, never through systemd's own parsing.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.services.kcore;

  vmType = types.submodule {
    options = {
      uid = mkOption { type = types.str; };
      cpus = mkOption { type = types.ints.positive; };
      memoryMiB = mkOption { type = types.ints.positive; };
      kernel = mkOption { type = types.nullOr types.str; default = null; };
      initrd = mkOption { type = types.nullOr types.str; default = null; };
      cmdline = mkOption { type = types.nullOr types.str; default = null; };
      firmware = mkOption { type = types.nullOr types.str; default = null; };
      disks = mkOption {
        type = types.listOf (types.submodule {
          options = {
            path = mkOption { type = types.str; };
            format = mkOption { type = types.enum [ "raw" "qcow2" ]; };
            readOnly = mkOption { type = types.bool; default = false; };
          };
        });
        default = [ ];
      };
      cloudInitSeed = mkOption { type = types.nullOr types.str; default = null; };
      mac = mkOption { type = types.str; };
      tap = mkOption { type = types.nullOr types.str; default = null; };
      apiSocket = mkOption { type = types.str; };
      serialSocket = mkOption { type = types.str; };
      # false (desired state Stopped): no unit; a switch stops the unit the VM had.
      running = mkOption { type = types.bool; default = true; };
    };
  };

  # Cloud Hypervisor splits option values on commas: a path with one cannot be passed safely.
  noComma = name: field: value:
    if builtins.length (builtins.split "," value) > 1
    then throw "kcore: VM ${name}: ${field} ${builtins.toJSON value} contains a comma, which cloud-hypervisor cannot take"
    else value;

  chArgs = name: vm:
    let
      p = noComma name;
      disk = d: "path=${p "disk" d.path}${lib.optionalString d.readOnly ",readonly=on"}";
      seed = lib.optional (vm.cloudInitSeed != null) "path=${p "cloudInitSeed" vm.cloudInitSeed},readonly=on";
    in
    [
      "--api-socket" "path=${p "apiSocket" vm.apiSocket}"
      "--serial" "socket=${p "serialSocket" vm.serialSocket}"
      "--console" "off"
      "--cpus" "boot=${toString vm.cpus}"
      "--memory" "size=${toString vm.memoryMiB}M"
      "--pvpanic"
    ]
    ++ (if vm.firmware != null then [ "--firmware" vm.firmware ]
        else [ "--kernel" vm.kernel ]
          ++ lib.optionals (vm.initrd != null) [ "--initramfs" vm.initrd ]
          ++ lib.optionals (vm.cmdline != null) [ "--cmdline" vm.cmdline ])
    ++ lib.optionals (vm.disks != [ ] || vm.cloudInitSeed != null)
      ([ "--disk" ] ++ map disk vm.disks ++ seed)
    ++ lib.optionals (vm.tap != null) [ "--net" "tap=${p "tap" vm.tap},mac=${vm.mac}" ];

  unit = name: vm: {
    description = "kcore VM ${name}";
    wantedBy = [ "multi-user.target" ];
    after = [ "network.target" ];
    serviceConfig = {
      ExecStart = pkgs.writeShellScript "kcore-vm-${name}"
        "exec ${cfg.cloudHypervisorPackage}/bin/cloud-hypervisor ${lib.escapeShellArgs (chArgs name vm)}";
      # ACPI power button, then the guest has until TimeoutStopSec to power off (systemd
      # kills what is left once ExecStop returns, so it waits for the hypervisor to exit).
      ExecStop = pkgs.writeShellScript "kcore-vm-${name}-stop" ''
        ${cfg.cloudHypervisorPackage}/bin/ch-remote --api-socket ${lib.escapeShellArg vm.apiSocket} power-button || exit 0
        while kill -0 "$MAINPID" 2>/dev/null; do sleep 0.5; done
      '';
      TimeoutStopSec = 30;
      Restart = "on-failure";
      RestartSec = 10;
      RuntimeDirectory = "kcore";
      RuntimeDirectoryPreserve = true;
    };
  };
in
{
  options.services.kcore = {
    vms = mkOption {
      type = types.attrsOf vmType;
      default = { };
      description = "VMs placed on this node by kcore; written by the kcore agent, not by hand.";
    };
    cloudHypervisorPackage = mkOption {
      type = types.package;
      default = pkgs.cloud-hypervisor;
      defaultText = "pkgs.cloud-hypervisor";
      description = "The Cloud Hypervisor package that runs the VMs.";
    };
  };

  config = lib.mkIf (cfg.vms != { }) {
    systemd.services = lib.mapAttrs' (name: vm: lib.nameValuePair "kcore-vm-${name}" (unit name vm))
      (lib.filterAttrs (name: vm: vm.running) cfg.vms);
  };
}

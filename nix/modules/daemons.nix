# Runs kcore itself: `services.kcore.controller` and `services.kcore.agent`, each as root with
# its data directory (certificates under <dataDir>/certs, created by `kcore agent init` or
# `kctl create cluster`; see docs/nodes.md).
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption mkEnableOption types;
  cfg = config.services.kcore;

  daemon = description: args: {
    inherit description;
    wantedBy = [ "multi-user.target" ];
    after = [ "network-online.target" ];
    wants = [ "network-online.target" ];
    serviceConfig = {
      ExecStart = pkgs.writeShellScript "kcore-${lib.head args}"
        "exec ${cfg.package}/bin/kcore ${lib.escapeShellArgs args}";
      Restart = "always";
      RestartSec = 2;
      # Workloads outlive the daemon: only the daemon's own process is stopped.
      KillMode = "process";
      StateDirectory = "kcore";
      StateDirectoryMode = "0700";
    };
  };
in
{
  options.services.kcore = {
    package = mkOption {
      type = types.package;
      description = "The kcore package (its bin/kcore).";
    };
    controller = {
      enable = mkEnableOption "the kcore controller";
      listen = mkOption { type = types.str; default = "0.0.0.0:9090"; };
      dataDir = mkOption { type = types.str; default = "/var/lib/kcore"; };
    };
    agent = {
      enable = mkEnableOption "the kcore node agent";
      controller = mkOption { type = types.str; description = "HOST:PORT of the controller."; };
      nodeName = mkOption { type = types.str; default = config.networking.hostName; };
      listen = mkOption { type = types.str; default = "0.0.0.0:9091"; };
      advertise = mkOption { type = types.nullOr types.str; default = null; };
      labels = mkOption { type = types.attrsOf types.str; default = { }; };
      dataDir = mkOption { type = types.str; default = "/var/lib/kcore"; };
      extraArgs = mkOption { type = types.listOf types.str; default = [ ]; };
    };
  };

  config = lib.mkMerge [
    (lib.mkIf cfg.controller.enable {
      systemd.services.kcore-controller = daemon "kcore controller" [
        "controller" "--listen" cfg.controller.listen "--data-dir" cfg.controller.dataDir
      ];
    })
    (lib.mkIf cfg.agent.enable {
      systemd.services.kcore-agent = daemon "kcore node agent" ([
        "agent" "--controller" cfg.agent.controller "--node-name" cfg.agent.nodeName
        "--listen" cfg.agent.listen "--data-dir" cfg.agent.dataDir
      ]
      ++ lib.optionals (cfg.agent.advertise != null) [ "--advertise" cfg.agent.advertise ]
      ++ lib.optionals (cfg.agent.labels != { }) [
        "--labels" (lib.concatStringsSep "," (lib.mapAttrsToList (k: v: "${k}=${v}") cfg.agent.labels))
      ]
      ++ cfg.agent.extraArgs);
    })
  ];
}

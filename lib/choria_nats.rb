# frozen_string_literal: true

require_relative "choria_nats/version"
require_relative "choria_nats/errors"
require_relative "choria_nats/native"

ChoriaNats::Native.load!

require_relative "choria_nats/connection"
require_relative "choria_nats/bounded_command"
require_relative "choria_nats/srv_locator"
require_relative "choria_nats/broker_list"
require_relative "choria_nats/federation"
require_relative "choria_nats/connector_options"
require_relative "choria_nats/envelope"
require_relative "choria_nats/targets"
require_relative "choria_nats/server_address"
require_relative "choria_nats/ssl_paths"
require_relative "choria_nats/security_provider"
require_relative "choria_nats/certificate_check"
require_relative "choria_nats/settings_table"
require_relative "choria_nats/setting_sources"
require_relative "choria_nats/plugin_settings"
require_relative "choria_nats/mcollective_log"
require_relative "choria_nats/warning_throttle"
require_relative "choria_nats/plugin_installer"

# frozen_string_literal: true

require_relative "choria_nats/version"
require_relative "choria_nats/errors"
require_relative "choria_nats/native"

ChoriaNats::Native.load!

require_relative "choria_nats/connection"

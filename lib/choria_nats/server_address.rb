# frozen_string_literal: true

module ChoriaNats
  # The broker a connector is connected to, as the connector's `connected_server` gives it: `to_s`
  # is `host:port`, and `scheme`, `host` and `port` are there for what read the URI
  # mcollective-choria's connector returned (its `choria_util` agent's `info` action). The scheme is
  # "nats", as in those URIs; the link is always verified TLS.
  class ServerAddress
    # @return [String] "nats"
    attr_reader :scheme
    # @return [String] the host as dialled: a name, an IPv4 address, or an IPv6 address without brackets
    attr_reader :host
    # @return [Integer] the port
    attr_reader :port

    # address:: "host:port" or "[v6]:port", as ChoriaNats::Connection#connected_server gives it.
    def initialize(address)
      @address = address.to_s
      host, _, port = @address.rpartition(":")
      @host = host.delete_prefix("[").delete_suffix("]")
      @port = Integer(port, 10)
      @scheme = "nats"
    end

    # "host:port".
    def to_s
      @address
    end

    # Equal to another ServerAddress or the "host:port" String of the same broker.
    def ==(other)
      to_s == other.to_s
    end
    alias eql? ==

    # Hash of the "host:port" String.
    def hash
      @address.hash
    end

    # #<ChoriaNats::ServerAddress host:port>
    def inspect
      "#<#{self.class.name} #{@address}>"
    end
  end
end

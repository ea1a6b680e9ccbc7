# frozen_string_literal: true

require "fileutils"

module ChoriaNats
  module TestSupport
    # A NATS cluster of NatsServer members joined by TLS routes, each member
    # on its own loopback address (127.0.0.2, 127.0.0.3, ...) with a
    # certificate naming that address, verified on client and route ports.
    class NatsCluster
      # The first member's address; the others follow it.
      FIRST_HOST = "127.0.0.2"
      # Seconds to wait for every route to form.
      ROUTES_TIMEOUT = 30

      # @return [Array<NatsServer>] the members, in address order
      attr_reader :members

      # @param size [Integer] members; +extra+ goes into each member's configuration
      def initialize(pki:, dir:, size: 3, monitor: true, extra: "")
        @pki = pki
        hosts = Array.new(size) { |i| FIRST_HOST.sub(/\d+\z/) { |last| (Integer(last) + i).to_s } }
        route_ports = hosts.map { |host| NatsServer.free_port(host) }
        routes = hosts.zip(route_ports).map { |host, port| "#{host}:#{port}" }
        @members = hosts.each_with_index.map do |host, i|
          files = pki.broker_files_for(host)
          NatsServer.new(pki: pki, dir: File.join(dir, "member#{i + 1}"), name: "member#{i + 1}", host: host,
                         cert: files[:cert_file], key: files[:key_file], monitor: monitor, extra: extra,
                         cluster: { route_port: route_ports[i], routes: routes - [routes[i]] })
        end
      end

      # @return [NatsCluster] self, every member started and every route up
      def start
        members.each(&:start)
        wait_for_routes
        self
      end

      # @return [NatsCluster] self, after every member still running has stopped
      def stop
        members.each(&:stop)
        self
      end

      # @return [Array<String>] the members' client addresses
      def addresses
        members.map(&:address)
      end

      # @return [Array<NatsServer>] the members running now
      def running
        members.select(&:running?)
      end

      # Waits until each running member has a route to every other running
      # member; raises after +seconds+.
      def wait_for_routes(seconds = ROUTES_TIMEOUT)
        limit = Process.clock_gettime(Process::CLOCK_MONOTONIC) + seconds
        (seconds / NatsServer::POLL_INTERVAL).ceil.times do
          return self if routed?
          break if Process.clock_gettime(Process::CLOCK_MONOTONIC) > limit

          sleep NatsServer::POLL_INTERVAL
        end
        raise "the cluster's routes did not all form within #{seconds}s: #{route_counts.inspect}"
      end

      # @return [Hash{String => Integer}] the routes each running member has, by its address
      def route_counts
        running.to_h { |member| [member.address, member.routez["num_routes"]] }
      end

      private

      # Every running member sees every other; a member routes to a peer once
      # per direction it dialled, so at least as many routes as peers.
      def routed?
        peers = running.size - 1
        route_counts.values.all? { |n| n >= peers }
      rescue StandardError # a member still starting answers nothing yet
        false
      end
    end
  end
end

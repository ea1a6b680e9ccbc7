# frozen_string_literal: true

require "json"
require "time"

module ChoriaNats
  # `choria-nats status --check FILE`: reads the status file mcollectived writes and judges it the
  # Nagios way, in one line and an exit status. Reconnects and drops are judged from the file's
  # `recent` window, which the daemon keeps over the last minutes: the check keeps no state of
  # its own, so it needs no writable directory and several checkers of one node agree.
  class StatusCheck
    # Nagios exit statuses, by name.
    CODES = { ok: 0, warning: 1, critical: 2, unknown: 3 }.freeze
    # Writes a daemon may miss before its status file is stale, when --max-age is not given: the
    # age allowed is this many times the file's own update_interval.
    STALE_WRITES = 10
    # Days before its expiry at which the certificate is a warning when --cert-days is not given.
    DEFAULT_CERT_DAYS = 14
    # The most of the file read: a status file is under a kilobyte.
    MAX_BYTES = 64 * 1024

    # file:: the status file; max_age:: seconds, or nil for STALE_WRITES writes at the file's own
    # update_interval; cert_days:: days; now:: the time to judge at.
    def initialize(file, max_age: nil, cert_days: DEFAULT_CERT_DAYS, now: Time.now)
      @file = file
      @max_age = max_age
      @cert_days = cert_days
      @now = now
    end

    # A file that is not a status file.
    class Unreadable < StandardError; end

    # [exit status, line]
    def run
      mtime = File.mtime(@file)
      judge(read, mtime)
    rescue Unreadable => e
      result(:unknown, "#{@file} #{e.message}")
    rescue Errno::ENOENT
      result(:critical, "#{@file} does not exist: mcollectived is not running, or not with " \
                        "plugin.choria.status_file_path = #{@file}")
    rescue SystemCallError, IOError => e
      result(:unknown, "cannot read #{@file}: #{e.message}")
    end

    private

    # The status as a Hash; raises Unreadable when the file is not one.
    def read
      text = File.open(@file, "rb") { |f| f.read(MAX_BYTES + 1) }.to_s
      raise Unreadable, "is over #{MAX_BYTES} bytes: not a status file" if text.bytesize > MAX_BYTES

      status = JSON.parse(text.force_encoding(Encoding::UTF_8))
      raise Unreadable, "is not a status file: it is not a JSON object" unless status.is_a?(Hash)

      missing = %w[identity connected updated] - status.keys
      raise Unreadable, "is not a status file: it has no #{missing.join(', ')}" unless missing.empty?

      status
    rescue JSON::ParserError, EncodingError => e
      raise Unreadable, "is not a status file: #{e.message.lines.first.to_s.strip}"
    end

    def judge(status, mtime)
      problems = []
      age = (@now - mtime).round
      max_age = @max_age || default_max_age(status)
      if age > max_age
        problems << [:critical, "the status file is #{age}s old, over #{seconds(max_age)}s: is mcollectived running?"]
      end
      problems << [:critical, "not connected to NATS"] unless status["connected"] == true
      problems.concat(certificate(status))
      problems.concat(recent(status))
      worst = problems.map(&:first).max_by { |name| CODES.fetch(name) } || :ok
      words = problems.map(&:last)
      words = [connected_line(status)] if words.empty?
      result(worst, "#{status['identity']}: #{words.join('; ')}", perfdata(status, age))
    end

    # STALE_WRITES writes at the interval the file says it is written at (a whole number of seconds).
    def default_max_age(status)
      interval = status["update_interval"]
      interval = default_interval unless interval.is_a?(Numeric) && interval.positive? && interval.finite?
      (STALE_WRITES * interval).ceil
    end

    # The setting's default, for a file that does not say its interval. The table is in the native
    # library, which the check loads only then: a current daemon always writes the interval.
    def default_interval
      require_relative "../choria_nats"
      require_relative "settings_table"
      SettingsTable.default("status_update_interval")
    end

    # 100 for 100.0: the --max-age a user typed, as they typed it.
    def seconds(value)
      value == value.to_i ? value.to_i : value
    end

    def connected_line(status)
      since = status["connected_since"] ? " since #{status['connected_since']}" : ""
      days = status["certificate_days_left"]
      expiry = days ? ", certificate valid for #{days} more days" : ""
      "connected to #{status['connected_server']}#{since}#{expiry}"
    end

    def certificate(status)
      expires = status["certificate_expires"]
      return [] unless expires

      left = (Time.iso8601(expires) - @now) / 86_400.0
      return [[:critical, "the certificate expired at #{expires}"]] if left <= 0
      return [[:warning, "the certificate expires at #{expires}, within #{@cert_days} days"]] if left < @cert_days

      []
    rescue ArgumentError
      [[:unknown, "the certificate expiry #{expires.inspect} is not a time"]]
    end

    def recent(status)
      window = status["recent"]
      return [] unless window.is_a?(Hash)

      %w[reconnects dropped].filter_map do |name|
        count = window[name].to_i
        next unless count.positive?

        what = name == "dropped" ? "messages dropped" : "reconnects"
        [:warning, "#{count} #{what} in the last #{window['seconds']}s"]
      end
    end

    def perfdata(status, age)
      stats = status["stats"].is_a?(Hash) ? status["stats"] : {}
      values = { "age" => "#{age}s", "reconnects" => "#{stats['reconnects'].to_i}c",
                 "dropped" => "#{stats['dropped'].to_i}c", "skipped" => "#{stats['skipped'].to_i}c" }
      values.map { |name, value| "#{name}=#{value}" }.join(" ")
    end

    def result(name, text, perf = nil)
      line = "#{name.to_s.upcase}: #{text.to_s.gsub(/[[:cntrl:]|]/, ' ')}"
      [CODES.fetch(name), perf ? "#{line} | #{perf}" : line]
    end
  end
end

# frozen_string_literal: true

module ChoriaNats
  VERSION = "0.1.0"
end

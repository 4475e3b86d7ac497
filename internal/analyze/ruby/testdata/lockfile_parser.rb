# Lists the gems of a Gemfile.lock as Bundler's own parser reads them:
# the expectations of the Gemfile.lock tests. PATH gems (the project's own
# code) are left out; "direct" is whether the gem is listed under
# DEPENDENCIES. Run: BUNDLE_GEMFILE=bundler/Gemfile ruby lockfile_parser.rb bundler/Gemfile.lock
require "bundler"
require "json"

lock = Bundler::LockfileParser.new(File.read(ARGV[0]))
out = lock.specs.reject { |s| s.source.is_a?(Bundler::Source::Path) }.map do |s|
  { "name" => s.name, "version" => s.version.to_s, "platform" => s.platform.to_s,
    "direct" => lock.dependencies.key?(s.name) }
end
puts JSON.pretty_generate(out.sort_by { |g| [g["name"], g["version"], g["platform"]] })
